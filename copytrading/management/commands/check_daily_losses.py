from django.conf import settings
from django.core.management.base import CommandError

from copytrading.daily_loss import DailyLossWatchReport, WatchSkip, daily_losses_watch
from copytrading.tasks import DAILY_LOSS_WATCH_LOCK, DAILY_LOSS_WATCH_LOCK_TTL
from core.locks import task_lock
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = ("Check every copy follower's loss today against its daily loss limit now, as the beat watcher does "
            "every 5 minutes: the warning at NIJA_DAILY_LOSS_WARN_PCT % of the limit, and at the limit the alert "
            "and (where the risk profile says so) the suspension; each message once per UTC day. Accounts without "
            "a reading are listed with the reason, never judged on zero.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        # The watcher's lock for the whole walk: the beat task and this command never handle at once.
        with task_lock(DAILY_LOSS_WATCH_LOCK, ttl_seconds=DAILY_LOSS_WATCH_LOCK_TTL) as taken:
            if not taken:
                raise CommandError("the daily loss watch is running now (beat's task); try again in a minute")
            total = self._watch_all()
        if opts["json"]:
            self.write_json(total.as_dict())
            return
        self.stdout.write(f"daily loss watch: {total.accounts} accounts, {total.checked} checked, "
                          f"{len(total.approaching)} approaching the limit, {len(total.breached)} at the limit, "
                          f"{len(total.skipped)} not judged")
        for user_id in total.breached:
            self.stdout.write(f"  limit reached: {user_id}")
        for user_id in total.approaching:
            self.stdout.write(f"  approaching: {user_id}")
        for user_id, reason in total.skipped.items():
            self.stdout.write(f"  not judged: {user_id} ({WatchSkip.TEXT[reason]})")

    @staticmethod
    def _watch_all() -> DailyLossWatchReport:
        total, after_id = DailyLossWatchReport(), 0
        limit = max(1, int(settings.NIJA_TASK_BATCH_SIZE))
        while True:
            batch = daily_losses_watch(after_id=after_id, limit=limit)
            total.accounts += batch.accounts
            total.checked += batch.checked
            total.approaching += batch.approaching
            total.breached += batch.breached
            total.skipped.update(batch.skipped)
            if batch.next_after_id is None:
                return total
            after_id = batch.next_after_id
