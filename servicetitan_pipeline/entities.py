"""The one declarative table of ServiceTitan entities the pipeline syncs.

Everything that is per-entity is driven from ``ENTITIES``: the ingestion assets (one per
entry), the raw tables, the simulator's routes and the ``check`` command. Adding an entity is
one entry here plus its dbt staging model.

Paths follow ServiceTitan's V2 tenant APIs (bundled in servicetitan_pipeline/openapi/ from the
official documents by scripts/vendor_openapi.py):
``/{module}/v2/tenant/{tenant}/{resource}`` for list endpoints and
``/{module}/v2/tenant/{tenant}/export/{resource}`` for export endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

ASSET_KEY_PREFIX = "servicetitan"
RAW_SCHEMA = "raw_servicetitan"


class SyncMode(StrEnum):
    """How an entity is kept in sync."""

    # Export endpoint with ServiceTitan's continuation token (`from` / `continueFrom`).
    # Returns active, inactive and deleted records; what ServiceTitan recommends for warehouses.
    EXPORT = "export"
    # List endpoint filtered by `modifiedOnOrAfter` (inactive records included by the
    # entity's `list_inactive_params`). For entities that have no export endpoint.
    LIST_INCREMENTAL = "list_incremental"


@dataclass(frozen=True)
class Reference:
    """A foreign key from one entity's record to another entity (checked as a warning)."""

    field: str  # dotted path into the record, e.g. "customerId" or "job.id"
    entity: str  # name of the referenced entity, e.g. "customers"


@dataclass(frozen=True)
class Entity:
    """One ServiceTitan entity, synced into ``raw_servicetitan.<name>``."""

    name: str  # asset key ["servicetitan", name] and raw table name; snake_case
    module: str  # API module: crm, jpm, accounting, settings, marketing
    resource: str  # URL segment after /tenant/{tenant}/ (and after /export/)
    sync_mode: SyncMode
    description: str
    spec_file: str  # official OpenAPI document (bundled in servicetitan_pipeline/openapi/)
    list_schema: str | None  # component schema of one list-endpoint record; None: no list endpoint
    export_schema: str | None  # component schema of one export record; None: no export endpoint
    # Query parameters that make the list endpoint return inactive records too (list endpoints
    # hide them by default).
    list_inactive_params: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({"active": "Any"})
    )
    references: tuple[Reference, ...] = ()

    @property
    def has_export(self) -> bool:
        return self.export_schema is not None

    @property
    def has_list(self) -> bool:
        return self.list_schema is not None

    @property
    def asset_key_path(self) -> list[str]:
        return [ASSET_KEY_PREFIX, self.name]

    @property
    def raw_table(self) -> str:
        return f"{RAW_SCHEMA}.{self.name}"

    def list_path(self, tenant_id: int | str) -> str:
        if not self.has_list:
            raise ValueError(f"ServiceTitan has no list endpoint for {self.name}")
        return f"/{self.module}/v2/tenant/{tenant_id}/{self.resource}"

    def export_path(self, tenant_id: int | str) -> str:
        if not self.has_export:
            raise ValueError(f"ServiceTitan has no export endpoint for {self.name}")
        return f"/{self.module}/v2/tenant/{tenant_id}/export/{self.resource}"


_ACTIVE_STATE_ALL = MappingProxyType({"activeState": "All"})

ENTITIES: tuple[Entity, ...] = (
    Entity(
        name="business_units",
        module="settings",
        resource="business-units",
        sync_mode=SyncMode.EXPORT,
        description="Business units (e.g. HVAC Service, Plumbing Install): how the company "
        "divides its trades and reports revenue.",
        spec_file="settings-v2.json",
        list_schema="TenantSettings.V2.BusinessUnitResponse",
        export_schema="TenantSettings.V2.ExportBusinessUnitResponse",
    ),
    Entity(
        name="technicians",
        module="settings",
        resource="technicians",
        sync_mode=SyncMode.EXPORT,
        description="Technicians: the field staff who run jobs and are credited with revenue.",
        spec_file="settings-v2.json",
        list_schema="TenantSettings.V2.TechnicianResponse",
        export_schema="TenantSettings.V2.ExportTechnicianResponse",
        references=(Reference("businessUnitId", "business_units"),),
    ),
    Entity(
        name="job_types",
        module="jpm",
        resource="job-types",
        sync_mode=SyncMode.LIST_INCREMENTAL,
        description="Job types (e.g. AC Tune-Up, Water Heater Install). ServiceTitan has no "
        "export endpoint for them, so they are read from the list endpoint by modifiedOnOrAfter.",
        spec_file="jpm-v2.json",
        list_schema="Jpm.V2.JobTypeResponse",
        export_schema=None,
    ),
    Entity(
        name="campaigns",
        module="marketing",
        resource="campaigns",
        sync_mode=SyncMode.LIST_INCREMENTAL,
        description="Marketing campaigns that jobs are attributed to. ServiceTitan has no "
        "export endpoint for them, so they are read from the list endpoint by modifiedOnOrAfter.",
        spec_file="marketing-v2.json",
        list_schema="Marketing.V2.CampaignResponse",
        export_schema=None,
    ),
    Entity(
        name="customers",
        module="crm",
        resource="customers",
        sync_mode=SyncMode.EXPORT,
        description="Customers (residential and commercial bill-to accounts), including "
        "inactive ones and those merged into another customer (mergedToId).",
        spec_file="crm-v2.json",
        list_schema="Crm.V2.Customers.CustomerResponse",
        export_schema="Crm.V2.ExportCustomerResponse",
    ),
    Entity(
        name="locations",
        module="crm",
        resource="locations",
        sync_mode=SyncMode.EXPORT,
        description="Service locations: the addresses where work is done, each belonging "
        "to a customer.",
        spec_file="crm-v2.json",
        list_schema="Crm.V2.Locations.LocationResponse",
        export_schema="Crm.V2.ExportLocationsResponse",
        references=(Reference("customerId", "customers"),),
    ),
    Entity(
        name="jobs",
        module="jpm",
        resource="jobs",
        sync_mode=SyncMode.EXPORT,
        description="Jobs: units of work for a customer at a location, with status, job type, "
        "business unit, campaign and completion date.",
        spec_file="jpm-v2.json",
        list_schema="Jpm.V2.JobResponse",
        export_schema="Jpm.V2.ExportJobsResponse",
        references=(
            Reference("customerId", "customers"),
            Reference("locationId", "locations"),
            Reference("businessUnitId", "business_units"),
            Reference("jobTypeId", "job_types"),
            Reference("campaignId", "campaigns"),
        ),
    ),
    Entity(
        name="appointments",
        module="jpm",
        resource="appointments",
        sync_mode=SyncMode.EXPORT,
        description="Appointments: scheduled visits of a job, with arrival windows and status.",
        spec_file="jpm-v2.json",
        list_schema="Jpm.V2.AppointmentResponse",
        export_schema="Jpm.V2.ExportAppointmentsResponse",
        references=(Reference("jobId", "jobs"), Reference("customerId", "customers")),
    ),
    Entity(
        name="invoices",
        module="accounting",
        resource="invoices",
        sync_mode=SyncMode.EXPORT,
        description="Invoices, with money as ServiceTitan sends it (strings, exact to the cent), "
        "including inactive ones and adjustments.",
        spec_file="accounting-v2.json",
        list_schema="Accounting.V2.InvoiceResponse",
        export_schema="Accounting.V2.ExportInvoiceResponse",
        list_inactive_params=_ACTIVE_STATE_ALL,
        references=(Reference("job.id", "jobs"), Reference("customer.id", "customers")),
    ),
    Entity(
        name="invoice_items",
        module="accounting",
        resource="invoice-items",
        sync_mode=SyncMode.EXPORT,
        description="Invoice line items (export only in ServiceTitan): what was sold on each "
        "invoice, with quantity, price and total as strings.",
        spec_file="accounting-v2.json",
        list_schema=None,
        export_schema="Accounting.V2.ExportInvoiceItemResponse",
        references=(Reference("invoiceId", "invoices"),),
    ),
    Entity(
        name="payments",
        module="accounting",
        resource="payments",
        sync_mode=SyncMode.EXPORT,
        description="Payments received and the invoices they were applied to.",
        spec_file="accounting-v2.json",
        list_schema="Accounting.V2.DetailedPaymentResponse",
        export_schema="Accounting.V2.ExportPaymentResponse",
        list_inactive_params=_ACTIVE_STATE_ALL,
        references=(Reference("customer.id", "customers"),),
    ),
)

ENTITIES_BY_NAME: Mapping[str, Entity] = MappingProxyType({e.name: e for e in ENTITIES})


def get_entity(name: str) -> Entity:
    """Look up an entity by name, with an error that lists the known ones."""
    try:
        return ENTITIES_BY_NAME[name]
    except KeyError:
        known = ", ".join(ENTITIES_BY_NAME)
        raise KeyError(f"unknown ServiceTitan entity {name!r}; known entities: {known}") from None
