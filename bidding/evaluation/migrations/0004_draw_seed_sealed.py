"""The draw's seed sealed at rest (bidding.evaluation.seed): existing seeds are sealed in place."""

from django.db import migrations, models


def seal_seeds(apps, schema_editor):
    from bidding.evaluation.seed import seed_seal

    for draw in apps.get_model("evaluation", "ExpertDraw").objects.all():
        draw.seed_sealed = seed_seal(draw.seed_sealed, section_id=draw.section_id, commitment=draw.commitment)
        draw.save(update_fields=["seed_sealed"])


def unseal_seeds(apps, schema_editor):
    from bidding.evaluation.seed import seed_unseal

    for draw in apps.get_model("evaluation", "ExpertDraw").objects.all():
        draw.seed_sealed = seed_unseal(draw.seed_sealed, section_id=draw.section_id, commitment=draw.commitment)
        draw.save(update_fields=["seed_sealed"])


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0003_award_refused")]

    operations = [
        migrations.RenameField(model_name="expertdraw", old_name="seed", new_name="seed_sealed"),
        migrations.AlterField(model_name="expertdraw", name="seed_sealed", field=models.TextField()),
        migrations.RunPython(seal_seeds, unseal_seeds),
    ]
