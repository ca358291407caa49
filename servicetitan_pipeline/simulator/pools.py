"""Fixed vocabularies of the simulated home-services company (HVAC, plumbing, electrical, drains).

Names deliberately include accents, apostrophes, double quotes and emoji: real CRMs are full of
them, and a pipeline that mangles "Zoë O'Brien" or 'Robert "Bobby" Núñez' should fail its tests.
"""

# Names and labels use real typography (en dashes) on purpose: it is data.
# ruff: noqa: RUF001

from __future__ import annotations

from decimal import Decimal

FIRST_NAMES = (
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "María",
    "José",
    "Guadalupe",
    "Luis",
    "Ana",
    "Jorge",
    "Sofía",
    "Zoë",
    "Chloé",
    "François",
    "Renée",
    "Björn",
    "Søren",
    "Siobhán",
    "Seán",
    "Niamh",
    "Dmitri",
    "Łukasz",
    "Nguyễn",
    "Thảo",
    "Mei",
    "Hiroshi",
    "Aarav",
    "Priya",
    "Olúwaseun",
    "Chidi",
    "Fatima",
    "Omar",
    "Ingrid",
    "Ángel",
    "Inés",
    "Jürgen",
    "Anaïs",
    "Noël",
    "D'Andre",
    "De'Shawn",
    "Mary-Kate",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "García",
    "Rodríguez",
    "Martínez",
    "Hernández",
    "López",
    "González",
    "Pérez",
    "Sánchez",
    "Núñez",
    "Peña",
    "O'Brien",
    "O'Connor",
    "O'Malley",
    "D'Angelo",
    "McDonald",
    "Müller",
    "Schröder",
    "Lefèvre",
    "Côté",
    "Gauthier",
    "Nguyen",
    "Tran",
    "Kim",
    "Park",
    "Wang",
    "Chen",
    "Patel",
    "Shah",
    "Okafor",
    "Adeyemi",
    "Kowalski",
    "Wiśniewski",
    "Johansson",
    "Ødegaard",
)
NICKNAMES = ('"Bobby"', '"Skip"', '"Doc"', '"Red"', '"Tex"', '"Lulu"')
EMOJI = ("🏠", "🌵", "☀️", "🐶", "⭐", "🔧", "🌮", "🍕")
COMPANY_PATTERNS = (
    "{last} & Sons Plumbing",
    "{last}'s Bar & Grill",
    "Café {last}",
    "{last} Property Management, LLC",
    "{last} Dental Group",
    'The "{last}" Building',
    "Taquería {last} 🌮",
    "{last} Family Daycare",
    "{last} Auto Repair",
    "Hôtel {last}",
    "{last} Holdings, Inc.",
    "St. {last}'s Church",
)
STREET_NAMES = (
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Pecan",
    "Mesquite",
    "Bluebonnet",
    "Lamar",
    "Congress",
    "Guadalupe",
    "Riverside",
    "Barton Springs",
    "Burnet",
    "Manchaca",
    "Slaughter",
    "William Cannon",
    "Parmer",
    "Anderson Mill",
    "Ranch Road 620",
    "San Antonio",
    "Peña",
)
STREET_SUFFIXES = ("St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Ct", "Trl", "Way", "Cv")
# (city, zip prefix, latitude, longitude)
CITIES = (
    ("Austin", "787", 30.2672, -97.7431),
    ("Round Rock", "786", 30.5083, -97.6789),
    ("Cedar Park", "786", 30.5052, -97.8203),
    ("Pflugerville", "786", 30.4394, -97.6200),
    ("Georgetown", "786", 30.6333, -97.6779),
    ("Leander", "786", 30.5788, -97.8531),
    ("San Marcos", "786", 29.8833, -97.9414),
    ("Kyle", "786", 29.9891, -97.8772),
    ("Buda", "786", 30.0852, -97.8403),
    ("Bee Cave", "787", 30.3085, -97.9447),
)

# (name, trade, kind)
BUSINESS_UNITS = (
    ("HVAC Service", "HVAC", "Service"),
    ("HVAC Install", "HVAC", "Install"),
    ("Plumbing Service", "Plumbing", "Service"),
    ("Plumbing Install", "Plumbing", "Install"),
    ("Electrical Service", "Electrical", "Service"),
    ("Electrical Install", "Electrical", "Install"),
    ("Drains & Sewer", "Drains", "Service"),
    ("Commercial HVAC", "HVAC", "Commercial"),
    ("Legacy – Pool Service", "Pools", "Service"),  # inactive: the company stopped doing pools
)
TRADE_IDS = {"HVAC": 1, "Plumbing": 2, "Electrical": 3, "Drains": 4, "Pools": 5}
SALES_TAX_RATE = Decimal("0.0825")  # Texas: 6.25% state + 2% local

# (name, trade, duration seconds, class, priority)
JOB_TYPES = (
    ("AC Tune-Up", "HVAC", 3600, "Maintenance", "Normal"),
    ("AC Repair", "HVAC", 7200, "Service", "High"),
    ("No Cool Emergency", "HVAC", 7200, "Service", "Urgent"),
    ("Furnace Tune-Up", "HVAC", 3600, "Maintenance", "Normal"),
    ("Heat Pump Repair", "HVAC", 7200, "Service", "High"),
    ("HVAC System Replacement", "HVAC", 28800, "Install", "Normal"),
    ("Ductwork Inspection", "HVAC", 5400, "Service", "Low"),
    ("Water Heater Repair", "Plumbing", 5400, "Service", "High"),
    ("Water Heater Install", "Plumbing", 14400, "Install", "Normal"),
    ("Leak Detection", "Plumbing", 5400, "Service", "High"),
    ("Toilet Repair", "Plumbing", 3600, "Service", "Normal"),
    ("Repipe", "Plumbing", 57600, "Install", "Normal"),
    ("Faucet Install", "Plumbing", 3600, "Install", "Low"),
    ("Panel Upgrade", "Electrical", 28800, "Install", "Normal"),
    ("Outlet & Switch Repair", "Electrical", 3600, "Service", "Normal"),
    ("EV Charger Install", "Electrical", 14400, "Install", "Normal"),
    ("Generator Maintenance", "Electrical", 3600, "Maintenance", "Low"),
    ("Main Line Clog", "Drains", 5400, "Service", "Urgent"),
    ("Camera Inspection", "Drains", 3600, "Service", "Normal"),
    ("Hydro Jetting", "Drains", 7200, "Service", "High"),
    ("Pool Pump Repair", "Pools", 5400, "Service", "Normal"),  # inactive
    ("Estimate – Do Not Use", "HVAC", 1800, "Sales", "Low"),  # inactive
)

# (category, name, source, medium)
CAMPAIGNS = (
    ("Digital", "Google Ads – AC Repair", "Google", "PPC"),
    ("Digital", "Google Local Services", "Google", "LSA"),
    ("Digital", "Facebook – Spring Tune-Up", "Facebook", "Social"),
    ("Digital", "Yelp", "Yelp", "Directory"),
    ("Digital", "Website Organic", "Website", "Organic"),
    ("Traditional", "Truck Wrap", "Vehicle", "Signage"),
    ("Traditional", "Radio – KLBJ 590", "Radio", "Broadcast"),
    ("Traditional", "Direct Mail – Summer", "Mail", "Print"),
    ("Traditional", "Yard Signs", "Signs", "Signage"),
    ("Referral", "Customer Referral", "Referral", "Word of mouth"),
    ("Referral", "Realtor Partnership", "Partner", "Referral"),
    ("Existing", "Existing Customer", "Existing", "Repeat"),
    ("Existing", "Membership Renewal", "Membership", "Repeat"),
    ("Digital", "Angi Leads 2023", "Angi", "Lead aggregator"),  # inactive
    ("Traditional", "Home Show 2024", "Event", "Event"),  # inactive
)

# Pricebook: (sku id, name, type, low price, high price, taxable, cost ratio, sold hours, trade)
SKUS = (
    (5001, "Diagnostic Fee", "Service", "79", "99", False, "0", "0.5", None),
    (5002, "Trip Charge", "Service", "49", "69", False, "0", "0.25", None),
    (5003, "AC Tune-Up (Precision 21-Point)", "Service", "89", "149", False, "0.15", "1", "HVAC"),
    (5004, "Capacitor Replacement 45/5 MFD", "Material", "185", "325", True, "0.12", "0.5", "HVAC"),
    (5005, "R-410A Refrigerant (per lb)", "Material", "95", "135", True, "0.25", "0", "HVAC"),
    (5006, "Contactor Replacement", "Material", "225", "365", True, "0.10", "0.5", "HVAC"),
    (5007, "Blower Motor Replacement", "Equipment", "650", "1250", True, "0.35", "2", "HVAC"),
    (
        5008,
        "16 SEER Heat Pump System 3 Ton",
        "Equipment",
        "8900",
        "14500",
        True,
        "0.45",
        "8",
        "HVAC",
    ),
    (5009, "Media Filter 16x25x4", "Material", "69", "99", True, "0.30", "0", "HVAC"),
    (5010, "Water Heater 50 Gal Gas", "Equipment", "1895", "2850", True, "0.40", "4", "Plumbing"),
    (5011, "Expansion Tank", "Material", "165", "245", True, "0.25", "0.5", "Plumbing"),
    (5012, "Toilet Rebuild Kit", "Material", "145", "225", True, "0.15", "1", "Plumbing"),
    (5013, "Leak Detection – Electronic", "Service", "295", "495", False, "0", "2", "Plumbing"),
    (5014, "PEX Repipe (per fixture)", "Service", "350", "550", False, "0.20", "1", "Plumbing"),
    (5015, "Kitchen Faucet Install", "Service", "195", "325", False, "0.05", "1", "Plumbing"),
    (5016, "200A Panel Upgrade", "Equipment", "2400", "3900", True, "0.35", "8", "Electrical"),
    (5017, "GFCI Outlet", "Material", "125", "195", True, "0.10", "0.5", "Electrical"),
    (
        5018,
        "Level 2 EV Charger Install",
        "Service",
        "950",
        "1850",
        False,
        "0.20",
        "4",
        "Electrical",
    ),
    (5019, "Whole-Home Surge Protector", "Material", "395", "595", True, "0.20", "1", "Electrical"),
    (5020, "Main Line Cable Clearing", "Service", "225", "425", False, "0", "1.5", "Drains"),
    (5021, "Sewer Camera Inspection", "Service", "195", "395", False, "0", "1", "Drains"),
    (5022, "Hydro Jetting (up to 100 ft)", "Service", "495", "895", False, "0.05", "2", "Drains"),
    (5023, "Pool Pump Motor", "Equipment", "450", "850", True, "0.40", "2", "Pools"),
)
MEMBER_DISCOUNT_SKU = (5100, "Comfort Club Member Discount (15%)")

# The company's general ledger accounts that the hand-written world posts to, as ServiceTitan
# writes an account reference on an invoice item or a payment ({id, name, number, type,
# detailType}). The gl_accounts endpoint lists them (behaviours.gl_accounts_generate), so an
# item's account can be looked up there. Customer Deposits is a Liability: an item posted to
# it is on the invoice but is not revenue on ServiceTitan's dashboard (only income accounts).
GL_SALES_INCOME = {
    "id": 4000,
    "name": "Sales Income",
    "number": "4000",
    "type": "Income",
    "detailType": "SalesOfProductIncome",
}
GL_SERVICE_INCOME = {
    "id": 4001,
    "name": "Service Income",
    "number": "4001",
    "type": "Income",
    "detailType": "SalesOfProductIncome",
}
GL_CUSTOMER_DEPOSITS = {
    "id": 2300,
    "name": "Customer Deposits",
    "number": "2300",
    "type": "Liability",
    "detailType": "OtherCurrentLiabilities",
}
GL_UNDEPOSITED_FUNDS = {
    "id": 1200,
    "name": "Undeposited Funds",
    "number": "1200",
    "type": "Other Current Asset",
    "detailType": "UndepositedFunds",
}
# in increasing id order (the generated store's ids must increase)
WORLD_GL_ACCOUNTS = (GL_UNDEPOSITED_FUNDS, GL_CUSTOMER_DEPOSITS, GL_SALES_INCOME, GL_SERVICE_INCOME)
# One invoice item in this many (by item id, so no random draw changes) is a deposit taken on
# the job, posted to Customer Deposits rather than to income.
DEPOSIT_ITEM_EVERY = 41
GOODWILL_CREDIT_SKU = (5101, "Goodwill Credit")

PAYMENT_TYPES = (
    ("Credit Card", "1"),
    ("Check", "2"),
    ("Cash", "3"),
    ("ACH", "4"),
    ("Financing", "5"),
)
OFFICE_USERS = (
    (900001, "ashley.m"),
    (900002, "brandon.k"),
    (900003, "carmen.r"),
    (900004, "dispatch.bot"),
)
TECHNICIAN_SKILLS = (
    "EPA 608",
    "NATE Certified",
    "Backflow Certified",
    "Master Plumber",
    "Journeyman Electrician",
    "Confined Space",
    "Medical Gas",
)
