from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """Evaluation and award (评标与定标): its own models and migrations, nested in bidding."""

    name = "bidding.evaluation"
    label = "evaluation"

    def ready(self):
        from bidding.evaluation.selectors import award_history, award_prices_by_section
        from trading.supervision.opendata import award_history_source_register
        from trading.supervision.statistics import award_source_register

        award_source_register(award_prices_by_section)  # the statistics read results from here first
        award_history_source_register(award_history)  # open data: the awards, refused ones as cancelled
