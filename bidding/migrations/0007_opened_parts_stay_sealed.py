# Opened parts are no longer decrypted into copies: their data keys are kept sealed instead (bidding.parts).
# Rows opened before this migration keep no key and cannot be read again; none exist outside development.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bidding", "0006_opened_part_sha256_lazy"),
    ]

    operations = [
        migrations.RemoveField(model_name="openedpart", name="file"),
        migrations.AddField(
            model_name="openedpart",
            name="sealed_key",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
    ]
