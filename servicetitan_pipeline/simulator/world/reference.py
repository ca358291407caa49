"""Reference data of the simulated company: business units, job types, campaigns, technicians.

Generated once, before the customers (whose jobs pick from it), and kept as small lists of
``*Ref`` tuples that the worker processes generating customers receive too.
"""

# Names and labels use real typography (en dashes) on purpose: it is data.
# ruff: noqa: RUF001

from __future__ import annotations

from .. import pools
from ..store import pack
from ..timefmt import MS_PER_DAY, iso
from .base import NamedRef, TradeRef, WorldBase


class ReferenceData(WorldBase):
    """Generates the tenant's reference data."""

    def _gen_business_units(self, created_ms: int) -> None:
        catalog = self.catalog
        store = self.stores["business_units"]
        for i, (name, trade, division) in enumerate(pools.BUSINESS_UNITS):
            bu_id = self._id("business_units")
            active = trade != "Pools"
            modified = self._between(created_ms, self.now_ms - MS_PER_DAY)
            record = {
                "id": bu_id,
                "active": active,
                "name": name,
                "officialName": f"Lone Star Home Services – {name}",
                "email": f"{name.split()[0].lower()}@lonestar-home.example",
                "currency": "USD",
                "phoneNumber": f"512555{1000 + i:04d}",
                "invoiceHeader": "<b>Lone Star Home Services</b>",
                "invoiceMessage": "Thank you for your business!",
                "defaultTaxRate": float(self.tax_rate),
                "authorizationParagraph": None,
                "acknowledgementParagraph": None,
                "address": {
                    "street": "4200 S Congress Ave",
                    "unit": "Suite 100",
                    "city": "Austin",
                    "state": "TX",
                    "zip": "78745",
                    "country": "USA",
                    "latitude": 30.2205,
                    "longitude": -97.7631,
                    "isManualCoordinates": False,
                    "isMilitary": False,
                },
                "materialSku": None,
                "quickbooksClass": name,
                "accountCode": f"BU-{i + 1:02d}",
                "franchiseId": None,
                "conceptCode": None,
                "corporateContractNumber": None,
                "trade": {"id": pools.TRADE_IDS[trade], "name": trade},
                "division": {
                    "id": 1 if division != "Commercial" else 2,
                    "name": "Residential" if division != "Commercial" else "Commercial",
                },
                "tagTypeIds": [],
                "tenant": {
                    "id": self.config.tenant_id,
                    "name": "Lone Star Home Services",
                    "accountCode": None,
                    "franchiseId": None,
                    "conceptCode": None,
                    "modifiedOn": iso(created_ms),
                },
                "createdOn": iso(created_ms),
                "modifiedOn": iso(modified),
                "externalData": None,
            }
            store.add(bu_id, pack(record), modified, created_ms, active)
            catalog.business_units.append(TradeRef(bu_id, name, trade, active))
        catalog.active_bu = [i for i, bu in enumerate(catalog.business_units) if bu.active]

    def _gen_job_types(self, created_ms: int) -> None:
        catalog = self.catalog
        store = self.stores["job_types"]
        bu_by_trade: dict[str, list[int]] = {}
        for bu in catalog.business_units:
            bu_by_trade.setdefault(bu.trade, []).append(bu.id)
        for name, trade, duration, klass, priority in pools.JOB_TYPES:
            jt_id = self._id("job_types")
            active = trade != "Pools" and not name.startswith("Estimate")
            modified = self._between(created_ms, self.now_ms - MS_PER_DAY)
            record = {
                "id": jt_id,
                "name": name,
                "businessUnitIds": bu_by_trade.get(trade, []),
                "skills": ["EPA 608"] if trade == "HVAC" else [],
                "tagTypeIds": [],
                "priority": priority,
                "duration": duration,
                "soldThreshold": 500.0 if klass == "Install" else None,
                "class": klass,
                "summary": f"{name}: standard {klass.lower()} visit.",
                "noCharge": False,
                "enforceRecurringServiceEventSelection": False,
                "invoiceSignaturesRequired": klass == "Install",
                "modifiedOn": iso(modified),
                "createdOn": iso(created_ms),
                "externalData": [],
                "active": active,
                "isSmartDispatched": klass != "Install",
            }
            store.add(jt_id, pack(record), modified, created_ms, active)
            catalog.job_types.append(TradeRef(jt_id, name, trade, active))
        catalog.active_job_types = [i for i, jt in enumerate(catalog.job_types) if jt.active]

    def _gen_campaigns(self, created_ms: int) -> None:
        catalog = self.catalog
        store = self.stores["campaigns"]
        for i, (category, name, source, medium) in enumerate(pools.CAMPAIGNS):
            c_id = self._id("campaigns")
            active = not name.endswith(("2023", "2024"))
            modified = self._between(created_ms, self.now_ms - MS_PER_DAY)
            record = {
                "id": c_id,
                "name": name,
                "modifiedOn": iso(modified),
                "createdOn": iso(created_ms),
                "active": active,
                "isDefaultCampaign": name == "Existing Customer",
                "category": {
                    "id": {"Digital": 1, "Traditional": 2, "Referral": 3, "Existing": 4}[category],
                    "name": category,
                    "active": True,
                },
                "source": source,
                "otherSource": None,
                "businessUnit": None,
                "medium": medium,
                "otherMedium": None,
                "campaignPhoneNumbers": [f"512555{2000 + i:04d}"] if category != "Existing" else [],
            }
            store.add(c_id, pack(record), modified, created_ms, active)
            catalog.campaigns.append(NamedRef(c_id, name, active))
        catalog.active_campaigns = [i for i, c in enumerate(catalog.campaigns) if c.active]
        # Most work comes from existing customers and Google.
        catalog.campaign_weights = [
            8
            if "Existing" in catalog.campaigns[i].name
            else 3
            if "Google" in catalog.campaigns[i].name
            else 1
            for i in catalog.active_campaigns
        ]

    def _gen_technicians(self, created_ms: int, count: int) -> None:
        catalog = self.catalog
        store = self.stores["technicians"]
        rng = self.rng
        positions = ("Service", "Installer", "Maintenance", "Sales", "Helper")
        for i in range(count):
            t_id = self._id("technicians")
            first = rng.choice(pools.FIRST_NAMES)
            last = rng.choice(pools.LAST_NAMES)
            active = rng.random() > 0.08
            bu_id = catalog.business_units[rng.choice(catalog.active_bu)].id
            hired = self._between(created_ms, self.now_ms - 30 * MS_PER_DAY)
            modified = self._between(hired, self.now_ms - MS_PER_DAY)
            login = f"{first[0]}{last}".lower().replace("'", "").replace(" ", "")
            record = {
                "id": t_id,
                "userId": 500_000 + i,
                "name": f"{first} {last}",
                "roleIds": [3],
                "businessUnitId": bu_id,
                "mainZoneId": rng.randint(1, 6),
                "zoneIds": sorted(rng.sample(range(1, 7), 2)),
                "createdOn": iso(hired),
                "modifiedOn": iso(modified),
                "email": f"{login.encode('ascii', 'ignore').decode()}{i}@lonestar-home.example",
                "phoneNumber": f"512555{3000 + i:04d}",
                "loginName": f"{login}{i}",
                "home": {
                    "street": f"{rng.randint(100, 9999)} {rng.choice(pools.STREET_NAMES)} St",
                    "unit": None,
                    "country": "USA",
                    "city": rng.choice(pools.CITIES)[0],
                    "state": "TX",
                    "zip": f"786{rng.randint(10, 99)}",
                    "streetAddress": None,
                    "latitude": None,
                    "longitude": None,
                },
                "dailyGoal": float(rng.choice((1500, 2000, 2500, 3000))),
                "isManagedTech": True,
                "licenseType": "ManagedTech",
                "customFields": [],
                "active": active,
                "aadUserId": None,
                "burdenRate": 12.5,
                "team": rng.choice(("Red Team", "Blue Team", "Install Crew")),
                "jobFilter": "AllScheduledDispatchedWorking",
                "permissions": [],
                "accountLocked": not active,
                "commissionRate": float(rng.choice((0.0, 0.02, 0.05))),
                "currentValue": None,
                "firstName": first,
                "lastName": last,
                "hourlyRate": float(rng.choice((24, 27.5, 31, 34.75, 38))),
                "jobId": None,
                "mobilePhone": f"512555{4000 + i:04d}",
                "outboundCallerId": None,
                "payrollId": f"P{10000 + i}",
                "payrollProfileId": None,
                "appoitmentId": None,
                "shiftStart": "07:00:00",
                "shiftEnd": "16:00:00",
                "soldByRate": 0.0,
                "startDate": iso(hired),
                "status": "Idle" if not active else rng.choice(("Idle", "Dispatched", "Working")),
                "skills": [
                    {"id": 1 + k, "name": pools.TECHNICIAN_SKILLS[k]}
                    for k in sorted(rng.sample(range(len(pools.TECHNICIAN_SKILLS)), 2))
                ],
                "positions": [rng.choice(positions)],
                "location": None,
                "bio": None,
                "memo": None,
            }
            store.add(t_id, pack(record), modified, hired, active)
            catalog.technicians.append(NamedRef(t_id, f"{first} {last}", active))
        catalog.active_technicians = [t for t in catalog.technicians if t.active]
