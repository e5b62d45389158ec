# Alerts moved to supervision (one model for every alert): its 0001 copies the rows, then the table goes.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("escrow", "0001_initial"),
        ("supervision", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(
            name="Alert",
        ),
    ]
