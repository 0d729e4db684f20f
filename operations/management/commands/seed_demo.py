from core.management.base import NijaCommand
from operations.demo import demo_seed


class Command(NijaCommand):
    help = "Seed the demo data once; a second run changes nothing."

    def handle(self, *args, **opts):
        results = demo_seed(progress=lambda line: self.stdout.write(f"  {line}"))
        wrote = any(results.values())
        message = "Demo data seeded." if wrote else "Demo data already present; nothing changed."
        self.stdout.write(self.style.SUCCESS(message))
