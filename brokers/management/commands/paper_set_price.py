from brokers.paper_venue import paper_price_set
from core.decimals import format_decimal
from core.management.base import NijaCommand


class Command(NijaCommand):
    help = "Set the PAPER venue's price of a market, e.g. paper_set_price BTC/USD 50000."

    def add_arguments(self, parser):
        parser.add_argument("symbol")
        parser.add_argument("price")

    def handle(self, *args, **opts):
        symbol = opts["symbol"].upper()
        price = paper_price_set(symbol=symbol, price=opts["price"])
        self.stdout.write(f"PAPER {symbol} = {format_decimal(price)}")
