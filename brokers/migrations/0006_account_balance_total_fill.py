"""Fill the stored balance summaries of every account with a credential, with the same code the
balance audit keeps them with (brokers.services.account_balance_totals_refresh), in batches."""

from django.db import migrations

BATCH = 500


def summaries_fill(apps, schema_editor):
    # Imported when it runs, not when Django loads the migration graph (which must not pull in the
    # app's services and everything they import).
    from brokers.services import account_balance_totals_refresh

    credential_model = apps.get_model("brokers", "BrokerCredential")
    ids = sorted(set(credential_model.objects.values_list("account_id", flat=True)))
    for start in range(0, len(ids), BATCH):
        account_balance_totals_refresh(account_ids=ids[start:start + BATCH],
                                       snapshots=apps.get_model("brokers", "BalanceSnapshot"),
                                       credentials=credential_model,
                                       totals=apps.get_model("brokers", "AccountBalanceTotal"))


class Migration(migrations.Migration):

    dependencies = [
        ("brokers", "0005_account_balance_total"),
    ]

    operations = [
        migrations.RunPython(summaries_fill, migrations.RunPython.noop),
    ]
