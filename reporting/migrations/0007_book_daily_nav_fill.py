"""Fill the book's NAV per day from the stored DailyNav, with the same code daily_nav_refresh keeps
it with (reporting.services.book_nav_days_refresh), in batches of days."""

from django.db import migrations


def book_fill(apps, schema_editor):
    # Imported when it runs, not when Django loads the migration graph (which must not pull in the
    # app's services and everything they import).
    from reporting.services import book_nav_days_refresh

    navs = apps.get_model("reporting", "DailyNav")
    book_nav_days_refresh(days=navs.objects.order_by("day").values_list("day", flat=True).distinct(),
                          navs=navs, book=apps.get_model("reporting", "BookDailyNav"))


class Migration(migrations.Migration):

    dependencies = [
        ("reporting", "0006_book_daily_nav"),
    ]

    operations = [
        migrations.RunPython(book_fill, migrations.RunPython.noop),
    ]
