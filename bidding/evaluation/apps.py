from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """Evaluation and award (评标与定标): its own models and migrations, nested in bidding."""

    name = "bidding.evaluation"
    label = "evaluation"
