"""The sample company's vocabulary: names, places, tricky text and the fixed references.

Values in ``TRICKY_*`` and ``LONG_TEXT`` break naive exporters on purpose (tabs, newlines,
quotes, non-ASCII, emoji, very long values).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

COMPANY_TZ = ZoneInfo("America/Los_Angeles")

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Carlos Ana Wei Mei Hiroshi Yuki Olga Sven Chloé "
    "Zoë Jürgen Søren Amélie Renée Ngozi Aarav Fatima Diego"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Müller Schäfer Nørgaard Dubois Okafor Nakamura Chen Kowalski O'Brien D'Angelo"
).split()
BUSINESS = (
    "Supply Hardware Outfitters Traders Wholesale Distributors Market Provisions Goods Mercantile "
    "Depot Emporium Partners Foods Fixtures Electric Plumbing Garden Marine Farm"
).split()
PLACES = (
    "Bayview Northside Lakeshore Pinecrest Riverside Summit Harbor Valley Cedar Granite Redwood "
    "Golden Silver Prairie Coastal Mountain Union Liberty Pioneer Heritage"
).split()
CITIES = (
    ("San Francisco", "CA", "941"),
    ("Sacramento", "CA", "958"),
    ("Portland", "OR", "972"),
    ("Seattle", "WA", "981"),
    ("Reno", "NV", "895"),
    ("Boise", "ID", "837"),
    ("Phoenix", "AZ", "850"),
    ("Denver", "CO", "802"),
    ("Austin", "TX", "787"),
    ("Chicago", "IL", "606"),
)
STREETS = "Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Market Mission".split()
ITEM_NOUNS = (
    "Bolt Washer Hinge Bracket Valve Fitting Hose Pump Filter Gasket Bearing Sprocket Cable "
    "Switch Panel Lamp Seed Fertilizer Mulch Planter Tile Grout Sealant Brush Roller"
).split()
ITEM_ADJ = (
    "Stainless Galvanized Brass Copper Heavy-Duty Compact Premium Economy Industrial Organic "
    "Weatherproof Insulated"
).split()
SERVICES = (
    "Installation Consulting Delivery Design Maintenance Repair Training Inspection "
    "Landscaping Trenching"
).split()
TERMS = (("1", "Due on receipt", 0), ("2", "Net 15", 15), ("3", "Net 30", 30), ("4", "Net 60", 60))

# Values that break naive exporters; they land in names, notes, memos and descriptions.
TRICKY_NAMES = (
    "Café Müller & Söhne",
    "Zürich Übersee AG",
    "北京贸易有限公司",
    'The "Big" Joe\'s Diner',
    "O'Brien, Lacey & Co.",
    "Smile 😀 Supplies",
    "Ærø Fisk ApS",
    "Crème Brûlée Bakery",
)
TRICKY_TEXT = (
    "Deliver to back door\tring twice",
    "Line one\nLine two\r\nLine three",
    'He said "fragile" — handle with care',
    "Ünïcödé memo: naïve café, 中文备注, emoji 🚚📦",
    "Trailing spaces and a tab\t  ",
    "Semicolons; commas, pipes | and backslashes \\ here",
)
LONG_TEXT = ("Very long note. " + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 70)[
    :3990
]

USD = {"value": "USD", "name": "United States Dollar"}
TAX_NON = {"value": "NON"}
TAX_TAX = {"value": "TAX"}
SALES_ACCOUNT = {"value": "79", "name": "Sales of Product Income"}
SERVICE_ACCOUNT = {"value": "1", "name": "Services"}
COGS_ACCOUNT = {"value": "80", "name": "Cost of Goods Sold"}
INVENTORY_ACCOUNT = {"value": "81", "name": "Inventory Asset"}
DISCOUNT_ACCOUNT = {"value": "86", "name": "Discounts given"}
