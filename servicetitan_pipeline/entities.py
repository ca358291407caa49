"""The one declarative table of ServiceTitan entities the pipeline syncs.

Everything that is per-entity is driven from ``ENTITIES``: the ingestion assets (one per
entry), the raw tables and their keys, the asset checks, the ``check`` command (and the API
scope it names on a 403), the entity selection setting, the dbt sources and the simulator (its
routes, and records generated from the entry's component schemas in the volumes it gives).
Adding an entity is one entry here plus its dbt staging model.

Paths follow ServiceTitan's V2 tenant APIs (bundled in servicetitan_pipeline/openapi/ from the
official documents by scripts/vendor_openapi.py): ``{module prefix}/tenant/{tenant}/{resource}``
for list endpoints and ``{module prefix}/tenant/{tenant}/export/{resource}`` for export
endpoints. The module prefix is the path of the module document's ``servers`` entry plus what
its paths put before ``/tenant`` (``/crm/v2``; ``/telecom/v2`` for telecom, whose document's
server ends in ``/telecom`` and whose paths start with ``/v2``).

Where a record schema has no ``id``, ``modifiedOn`` or ``active``, the entry says how the entity
is keyed (``key``), ordered (``modified_field``) and marked inactive (``active_field``); the raw
table still holds every record the API sent, exactly once per key.
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
    # List endpoint read whole on every run: for small reference lists whose endpoint has no
    # `modifiedOnOrAfter` filter or whose records carry no `modifiedOn` to follow.
    LIST_FULL = "list_full"


@dataclass(frozen=True)
class Module:
    """One ServiceTitan API module: its OpenAPI document, URL prefix and name in the portal."""

    name: str  # the entity table's name for it, e.g. "crm"
    spec_file: str  # official OpenAPI document (bundled in servicetitan_pipeline/openapi/)
    url_prefix: str  # path before /tenant/{tenant}/, e.g. "/crm/v2"
    title: str  # how the developer portal names its API scopes, e.g. "CRM"


MODULES: Mapping[str, Module] = MappingProxyType(
    {
        m.name: m
        for m in (
            Module("accounting", "accounting-v2.json", "/accounting/v2", "Accounting"),
            Module("crm", "crm-v2.json", "/crm/v2", "CRM"),
            Module(
                "customer-interactions",
                "customer-interactions-v2.json",
                "/customer-interactions/v2",
                "Customer Interactions",
            ),
            Module("dispatch", "dispatch-v2.json", "/dispatch/v2", "Dispatch"),
            Module(
                "equipment-systems",
                "equipment-systems-v2.json",
                "/equipmentsystems/v2",
                "Equipment Systems",
            ),
            Module("inventory", "inventory-v2.json", "/inventory/v2", "Inventory"),
            Module("jpm", "jpm-v2.json", "/jpm/v2", "Job Planning and Management"),
            Module("marketing", "marketing-v2.json", "/marketing/v2", "Marketing"),
            Module(
                "marketing-reputation",
                "marketing-reputation-v2.json",
                "/marketingreputation/v2",
                "Marketing Reputation",
            ),
            Module("memberships", "memberships-v2.json", "/memberships/v2", "Memberships"),
            Module("payroll", "payroll-v2.json", "/payroll/v2", "Payroll"),
            Module("pricebook", "pricebook-v2.json", "/pricebook/v2", "Pricebook"),
            Module("sales", "salestech-v2.json", "/sales/v2", "Sales and Estimates"),
            Module(
                "service-agreements",
                "service-agreements-v2.json",
                "/service-agreements/v2",
                "Service Agreements",
            ),
            Module("settings", "settings-v2.json", "/settings/v2", "Settings"),
            Module("telecom", "telecom.json", "/telecom/v2", "Telecom"),
            Module("timesheets", "timesheets-v2.json", "/timesheets/v2", "Timesheets"),
        )
    }
)


@dataclass(frozen=True)
class Reference:
    """A foreign key from one entity's record to another entity (checked as a warning)."""

    field: str  # dotted path into the record, e.g. "customerId" or "job.id"
    entity: str  # name of the referenced entity, e.g. "customers"


@dataclass(frozen=True)
class Volume:
    """How many records the simulator generates for an entity.

    Either ``count`` records in all (reference tables), or about ``rate`` records for each
    record of the ``per`` entity (their parent: an estimate's job, a call's customer), which
    the generated records then point to and take their shared references from.
    """

    per: str | None = None
    rate: float = 1.0
    count: int = 0


_ACTIVE_ANY = MappingProxyType({"active": "Any"})
_NO_PARAMS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Entity:
    """One ServiceTitan entity, synced into ``raw_servicetitan.<name>``."""

    name: str  # asset key ["servicetitan", name] and raw table name; snake_case
    module: str  # API module, a key of MODULES: crm, jpm, accounting, ...
    resource: str  # URL path after /tenant/{tenant}/ (and after /export/), e.g. "jobs/splits"
    sync_mode: SyncMode
    description: str
    list_schema: str | None  # component schema of one list-endpoint record; None: not served
    export_schema: str | None  # component schema of one export record; None: no export endpoint
    # Query parameters that make the list endpoint return inactive records too (list endpoints
    # hide them by default).
    list_inactive_params: Mapping[str, str] = field(default_factory=lambda: _ACTIVE_ANY)
    # Query parameters every export request sends (appointment assignments' export returns
    # only active ones unless told `active=Any`).
    export_params: Mapping[str, str] = field(default_factory=lambda: _NO_PARAMS)
    references: tuple[Reference, ...] = ()
    # The record fields that identify it (integers), stored as the raw table's `id` (and
    # `id_2` for a second field). Most entities: ("id",).
    key: tuple[str, ...] = ("id",)
    # The field that orders versions of a record (the high-water of list syncs); None: the
    # records carry no time to follow, and a changed payload is what makes a version newer.
    modified_field: str | None = "modifiedOn"
    # The boolean field that says whether a record is active; None: it has none (raw `active`
    # is NULL).
    active_field: str | None = "active"
    # The API scope, as the developer portal shows it, that the app needs for this entity;
    # derived from the module and resource unless set.
    api_scope: str | None = None
    volume: Volume = field(default_factory=lambda: Volume(count=10))

    @property
    def spec_file(self) -> str:
        return MODULES[self.module].spec_file

    @property
    def url_prefix(self) -> str:
        return MODULES[self.module].url_prefix

    @property
    def scope(self) -> str:
        """The API scope (View) that the app needs to read this entity."""
        if self.api_scope is not None:
            return self.api_scope
        words = self.resource.replace("/", " ").replace("-", " ").title()
        return f"{MODULES[self.module].title}: {words} (View)"

    @property
    def has_export(self) -> bool:
        return self.export_schema is not None

    @property
    def has_list(self) -> bool:
        return self.list_schema is not None

    @property
    def record_schema(self) -> str:
        """The component schema of the records this entity syncs (export's, else list's)."""
        schema = self.export_schema or self.list_schema
        assert schema is not None, self.name
        return schema

    @property
    def asset_key_path(self) -> list[str]:
        return [ASSET_KEY_PREFIX, self.name]

    @property
    def raw_table(self) -> str:
        return f"{RAW_SCHEMA}.{self.name}"

    def list_path(self, tenant_id: int | str) -> str:
        if not self.has_list:
            raise ValueError(f"ServiceTitan has no list endpoint for {self.name}")
        return f"{self.url_prefix}/tenant/{tenant_id}/{self.resource}"

    def export_path(self, tenant_id: int | str) -> str:
        if not self.has_export:
            raise ValueError(f"ServiceTitan has no export endpoint for {self.name}")
        return f"{self.url_prefix}/tenant/{tenant_id}/export/{self.resource}"


def _export(
    name: str,
    module: str,
    resource: str,
    schema: str,
    description: str,
    *references: Reference,
    **options: object,
) -> Entity:
    """An entity synced from its export endpoint (the common case), read via ``schema``."""
    return Entity(
        name=name,
        module=module,
        resource=resource,
        sync_mode=SyncMode.EXPORT,
        description=description,
        list_schema=None,
        export_schema=schema,
        references=references,
        **options,  # type: ignore[arg-type]
    )


def _list(
    name: str,
    module: str,
    resource: str,
    schema: str,
    description: str,
    *references: Reference,
    **options: object,
) -> Entity:
    """A reference list without an export endpoint, read by ``modifiedOnOrAfter`` unless the
    options say ``sync_mode=SyncMode.LIST_FULL``."""
    options.setdefault("sync_mode", SyncMode.LIST_INCREMENTAL)
    return Entity(
        name=name,
        module=module,
        resource=resource,
        description=description,
        list_schema=schema,
        export_schema=None,
        references=references,
        **options,  # type: ignore[arg-type]
    )


_ACTIVE_STATE_ALL = MappingProxyType({"activeState": "All"})
_CUSTOMER = Reference("customerId", "customers")
_LOCATION = Reference("locationId", "locations")
_JOB = Reference("jobId", "jobs")
_TECHNICIAN = Reference("technicianId", "technicians")
_BUSINESS_UNIT = Reference("businessUnitId", "business_units")
_CAMPAIGN = Reference("campaignId", "campaigns")
_JOB_TYPE = Reference("jobTypeId", "job_types")
_MEMBERSHIP = Reference("membershipId", "memberships")
_EMPLOYEE = Reference("employeeId", "employees")
_APPOINTMENT = Reference("appointmentId", "appointments")
_PROJECT = Reference("projectId", "projects")
_INVOICE = Reference("invoiceId", "invoices")

ENTITIES: tuple[Entity, ...] = (
    Entity(
        name="business_units",
        module="settings",
        resource="business-units",
        sync_mode=SyncMode.EXPORT,
        description="Business units (e.g. HVAC Service, Plumbing Install): how the company "
        "divides its trades and reports revenue.",
        list_schema="TenantSettings.V2.BusinessUnitResponse",
        export_schema="TenantSettings.V2.ExportBusinessUnitResponse",
    ),
    Entity(
        name="technicians",
        module="settings",
        resource="technicians",
        sync_mode=SyncMode.EXPORT,
        description="Technicians: the field staff who run jobs and are credited with revenue.",
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
        list_schema="Accounting.V2.DetailedPaymentResponse",
        export_schema="Accounting.V2.ExportPaymentResponse",
        list_inactive_params=_ACTIVE_STATE_ALL,
        references=(Reference("customer.id", "customers"),),
    ),
    # ---- sales, telecom, CRM ----
    _export(
        "estimates",
        "sales",
        "estimates",
        "Estimates.V2.ExportEstimatesResponse",
        "Estimates offered on jobs: sold (soldOn, soldBy) or dismissed, with their items nested "
        "in the record (staging unnests them, one row per item).",
        _JOB,
        _CUSTOMER,
        _LOCATION,
        _BUSINESS_UNIT,
        Reference("soldBy", "technicians"),
        volume=Volume(per="jobs", rate=0.5),
    ),
    _export(
        "calls",
        "telecom",
        "calls",
        "Telecom.V2.ExportCallResponse",
        "Phone calls (inbound and outbound) with duration, call type, campaign and whether a "
        "job was booked: the base of booking rate and campaign ROI.",
        Reference("customer.id", "customers"),
        Reference("location.id", "locations"),
        Reference("campaign.id", "campaigns"),
        Reference("job.id", "jobs"),
        volume=Volume(per="customers", rate=1.5),
    ),
    _export(
        "leads",
        "crm",
        "leads",
        "Crm.V2.ExportLeadsResponse",
        "Leads: requests for work not booked yet, converted to a booking or dismissed.",
        _CUSTOMER,
        _LOCATION,
        _BUSINESS_UNIT,
        _JOB_TYPE,
        _CAMPAIGN,
        volume=Volume(per="customers", rate=0.15),
    ),
    _export(
        "bookings",
        "crm",
        "bookings",
        "Crm.V2.ExportBookingResponse",
        "Bookings from booking providers (web forms, call centres), converted to jobs or "
        "dismissed.",
        _CAMPAIGN,
        _BUSINESS_UNIT,
        _JOB,
        _JOB_TYPE,
        volume=Volume(per="customers", rate=0.1),
    ),
    _export(
        "customer_contacts",
        "crm",
        "customers/contacts",
        "Crm.V2.ExportCustomerContactResponse",
        "Customers' contact methods (phone, email, ...).",
        _CUSTOMER,
        volume=Volume(per="customers", rate=1.6),
    ),
    _export(
        "location_contacts",
        "crm",
        "locations/contacts",
        "Crm.V2.ExportLocationContactResponse",
        "Service locations' contact methods.",
        _LOCATION,
        volume=Volume(per="locations", rate=0.5),
    ),
    # ---- memberships ----
    _export(
        "memberships",
        "memberships",
        "memberships",
        "Memberships.V2.ExportCustomerMembershipResponse",
        "Customer memberships (maintenance plans): start and end dates, status, renewals and "
        "cancellations; the base of membership conversion and retention.",
        _CUSTOMER,
        _LOCATION,
        _BUSINESS_UNIT,
        Reference("membershipTypeId", "membership_types"),
        volume=Volume(per="customers", rate=0.25),
    ),
    _export(
        "membership_types",
        "memberships",
        "membership-types",
        "Memberships.V2.ExportMembershipTypeResponse",
        "Membership types (plans) the company sells.",
        volume=Volume(count=6),
    ),
    _export(
        "recurring_services",
        "memberships",
        "recurring-services",
        "Memberships.V2.ExportLocationRecurringServiceResponse",
        "Recurring services of memberships at locations (e.g. two tune-ups a year).",
        _MEMBERSHIP,
        _LOCATION,
        Reference("recurringServiceTypeId", "recurring_service_types"),
        _BUSINESS_UNIT,
        _JOB_TYPE,
        _CAMPAIGN,
        volume=Volume(per="memberships", rate=1.5),
    ),
    _export(
        "recurring_service_types",
        "memberships",
        "recurring-service-types",
        "Memberships.V2.ExportRecurringServiceTypeResponse",
        "Recurring service types (templates of recurring services).",
        volume=Volume(count=8),
    ),
    _export(
        "recurring_service_events",
        "memberships",
        "recurring-service-events",
        "Memberships.V2.ExportLocationRecurringServiceEventResponse",
        "Scheduled occurrences of recurring services, and the jobs booked for them.",
        Reference("locationRecurringServiceId", "recurring_services"),
        _MEMBERSHIP,
        _JOB,
        volume=Volume(per="recurring_services", rate=2.0),
    ),
    _export(
        "membership_status_changes",
        "memberships",
        "membership-status-changes",
        "Memberships.V2.ExportCustomerMembershipStatusChangesResponse",
        "Every status change of a membership (activated, suspended, canceled, expired). "
        "Immutable: ordered by createdOn; they have no active flag.",
        _MEMBERSHIP,
        modified_field="createdOn",
        active_field=None,
        volume=Volume(per="memberships", rate=0.35),
    ),
    _export(
        "invoice_templates",
        "memberships",
        "invoice-templates",
        "Memberships.V2.ExportInvoiceTemplateResponse",
        "Invoice templates that memberships and recurring services bill with.",
        volume=Volume(count=10),
    ),
    # ---- payroll ----
    _export(
        "job_splits",
        "payroll",
        "jobs/splits",
        "Payroll.V2.JobSplits.JobSplitExportResponse",
        "How each job's revenue credit is split between technicians (percentages summing to "
        "100 per job): technician credit on shared jobs.",
        _JOB,
        _TECHNICIAN,
        api_scope="Payroll: Job Splits (View)",
        volume=Volume(per="jobs", rate=1.3),
    ),
    _export(
        "job_timesheets",
        "payroll",
        "jobs/timesheets",
        "Payroll.V2.Timesheets.JobTimesheetExportResponse",
        "Technicians' time on appointments: dispatched, arrived and done times; the base of "
        "revenue per hour.",
        _JOB,
        _APPOINTMENT,
        _TECHNICIAN,
        api_scope="Payroll: Job Timesheets (View)",
        volume=Volume(per="appointments", rate=1.1),
    ),
    _export(
        "gross_pay_items",
        "payroll",
        "gross-pay-items",
        "Payroll.V2.GrossPayItems.GrossPayItemExportResponse",
        "Gross pay items: what each employee earned, per activity, job and invoice.",
        _EMPLOYEE,
        _JOB,
        _INVOICE,
        _CUSTOMER,
        _LOCATION,
        Reference("activityCodeId", "activity_codes"),
        volume=Volume(per="jobs", rate=1.0),
    ),
    _export(
        "payroll_adjustments",
        "payroll",
        "payroll-adjustments",
        "Payroll.V2.PayrollAdjustments.PayrollAdjustmentExportResponse",
        "Payroll adjustments (bonuses, deductions) per employee.",
        _EMPLOYEE,
        Reference("activityCodeId", "activity_codes"),
        volume=Volume(per="employees", rate=2.0),
    ),
    _export(
        "activity_codes",
        "payroll",
        "activity-codes",
        "Payroll.V2.PayrollActivityCodes.PayrollActivityCodeExportResponse",
        "Payroll activity codes.",
        volume=Volume(count=12),
    ),
    _export(
        "timesheet_codes",
        "payroll",
        "timesheet-codes",
        "Payroll.V2.TimesheetCodes.TimesheetCodeExportResponse",
        "Timesheet codes (non-job time: meetings, training, ...).",
        volume=Volume(count=10),
    ),
    _export(
        "payroll_settings",
        "payroll",
        "payroll-settings",
        "Payroll.V2.PayrollSettings.PayrollSettingsExportResponse",
        "Payroll settings per employee (hourly rate, type, manager). Keyed by employeeId: the "
        "records have no id of their own.",
        _EMPLOYEE,
        key=("employeeId",),
        volume=Volume(per="employees", rate=1.0),
    ),
    # ---- dispatch ----
    _export(
        "appointment_assignments",
        "dispatch",
        "appointment-assignments",
        "Dispatch.V2.ExportAppointmentAssignmentsResponse",
        "Which technicians were assigned to each appointment (unassigned ones kept, inactive). "
        "The export returns active assignments only unless asked for all (active=Any).",
        _TECHNICIAN,
        _JOB,
        _APPOINTMENT,
        export_params=_ACTIVE_ANY,
        volume=Volume(per="appointments", rate=1.15),
    ),
    _list(
        "zones",
        "dispatch",
        "zones",
        "Dispatch.V2.ZoneResponse",
        "Dispatch zones (areas by zip code and city).",
        volume=Volume(count=12),
    ),
    _list(
        "teams",
        "dispatch",
        "teams",
        "Dispatch.V2.TeamResponse",
        "Dispatch teams of technicians.",
        list_inactive_params=MappingProxyType({"includeInactive": "true"}),
        volume=Volume(count=6),
    ),
    _list(
        "arrival_windows",
        "dispatch",
        "arrival-windows",
        "Dispatch.V2.ArrivalWindowResponse",
        "Arrival windows offered to customers. Read whole on every run: the endpoint has no "
        "modifiedOnOrAfter filter and the records no modifiedOn.",
        sync_mode=SyncMode.LIST_FULL,
        modified_field=None,
        volume=Volume(count=8),
    ),
    _list(
        "technician_shifts",
        "dispatch",
        "technician-shifts",
        "Dispatch.V2.TechnicianShiftResponse",
        "Technicians' shifts (on call, time off, regular).",
        _TECHNICIAN,
        volume=Volume(per="technicians", rate=20.0),
    ),
    # ---- job planning and management ----
    _export(
        "projects",
        "jpm",
        "projects",
        "Jpm.V2.ExportProjectsResponse",
        "Projects: multi-job work (installs, construction) for a customer at a location.",
        _CUSTOMER,
        _LOCATION,
        volume=Volume(per="customers", rate=0.02),
    ),
    _export(
        "job_notes",
        "jpm",
        "job-notes",
        "Jpm.V2.ExportJobNotesResponse",
        "Notes written on jobs.",
        _JOB,
        volume=Volume(per="jobs", rate=0.8),
    ),
    _export(
        "project_notes",
        "jpm",
        "project-notes",
        "Jpm.V2.ExportProjectNotesResponse",
        "Notes written on projects.",
        _PROJECT,
        volume=Volume(per="projects", rate=3.0),
    ),
    _export(
        "job_canceled_logs",
        "jpm",
        "job-canceled-logs",
        "Jpm.V2.ExportJobCanceledLogResponse",
        "Why and when jobs were canceled (the base of cancel rate by reason). The records have "
        "no modifiedOn: ordered by createdOn.",
        _JOB,
        Reference("reasonId", "job_cancel_reasons"),
        modified_field="createdOn",
        volume=Volume(per="jobs", rate=0.1),
    ),
    _export(
        "job_history",
        "jpm",
        "job-history",
        "Jpm.V2.ExportJobHistoryResponse",
        "Each job's history of events ({jobId, history[]}, flattened in staging). Keyed by "
        "jobId; no modifiedOn or active: a changed history is a newer version.",
        _JOB,
        key=("jobId",),
        modified_field=None,
        active_field=None,
        volume=Volume(per="jobs", rate=1.0),
    ),
    _list(
        "job_cancel_reasons",
        "jpm",
        "job-cancel-reasons",
        "Jpm.V2.JobCancelReasonResponse",
        "Reasons a job can be canceled with.",
        volume=Volume(count=8),
    ),
    _list(
        "job_hold_reasons",
        "jpm",
        "job-hold-reasons",
        "Jpm.V2.JobHoldReasonResponse",
        "Reasons a job can be put on hold with.",
        volume=Volume(count=6),
    ),
    # ---- settings ----
    _export(
        "employees",
        "settings",
        "employees",
        "TenantSettings.V2.ExportEmployeeResponse",
        "Office employees (CSRs, dispatchers, managers): who books, sells and is paid.",
        _BUSINESS_UNIT,
        volume=Volume(count=40),
    ),
    _export(
        "tag_types",
        "settings",
        "tag-types",
        "TenantSettings.V2.ExportTagTypeResponse",
        "Tag types that customers, locations, jobs and leads are tagged with.",
        volume=Volume(count=25),
    ),
    # ---- accounting ----
    _export(
        "inventory_bills",
        "accounting",
        "inventory-bills",
        "Accounting.V2.ExportInventoryBillResponse",
        "Vendor bills for inventory received against purchase orders.",
        Reference("purchaseOrderId", "purchase_orders"),
        _JOB,
        volume=Volume(per="purchase_orders", rate=0.8),
    ),
    _list(
        "gl_accounts",
        "accounting",
        "gl-accounts",
        "Accounting.V2.GlAccountExtendedResponse",
        "General ledger accounts.",
        volume=Volume(count=40),
    ),
    _list(
        "payment_types",
        "accounting",
        "payment-types",
        "Accounting.V2.PaymentTypeResponse",
        "Payment types (cash, check, card, financing). Read whole on every run: the endpoint "
        "has no modifiedOnOrAfter filter; the records have no active flag.",
        sync_mode=SyncMode.LIST_FULL,
        active_field=None,
        volume=Volume(count=8),
    ),
    _list(
        "payment_terms",
        "accounting",
        "payment-terms",
        "Accounting.V2.PaymentTermAPIModel",
        "Payment terms (Net 30, Due on receipt, ...).",
        list_inactive_params=_NO_PARAMS,
        volume=Volume(count=5),
    ),
    _list(
        "tax_zones",
        "accounting",
        "tax-zones",
        "Accounting.V2.TaxZoneResponse",
        "Tax zones and their rates.",
        volume=Volume(count=6),
    ),
    # ---- marketing ----
    _list(
        "campaign_costs",
        "marketing",
        "costs",
        "Marketing.V2.CampaignCostResponse",
        "What each campaign cost, per year and month (daily cost): the spend side of campaign "
        "ROI. Read whole on every run: no modifiedOn, no active flag.",
        _CAMPAIGN,
        sync_mode=SyncMode.LIST_FULL,
        list_inactive_params=_NO_PARAMS,
        modified_field=None,
        active_field=None,
        volume=Volume(per="campaigns", rate=36.0),
    ),
    _list(
        "campaign_categories",
        "marketing",
        "categories",
        "Marketing.V2.CampaignCategoryResponse",
        "Campaign categories.",
        list_inactive_params=_NO_PARAMS,
        volume=Volume(count=8),
    ),
    _list(
        "reviews",
        "marketing-reputation",
        "reviews",
        "ServiceTitan.Marketing.ReviewEngine.Services.Models.Reviews.ReviewReport",
        "Online reviews of the company, matched to jobs and technicians where known. Keyed by "
        "internalId; no modifiedOn or active flag, so read whole on every run.",
        _JOB,
        _CUSTOMER,
        _TECHNICIAN,
        _BUSINESS_UNIT,
        sync_mode=SyncMode.LIST_FULL,
        list_inactive_params=_NO_PARAMS,
        key=("internalId",),
        modified_field=None,
        active_field=None,
        api_scope="Marketing Reputation: Reviews (View)",
        volume=Volume(per="jobs", rate=0.08),
    ),
    # ---- inventory ----
    _export(
        "purchase_orders",
        "inventory",
        "purchase-orders",
        "Inventory.V2.ExportPurchaseOrdersResponse",
        "Purchase orders to vendors. The records have no active flag: their status says "
        "whether they are canceled.",
        Reference("vendorId", "vendors"),
        _JOB,
        _TECHNICIAN,
        _BUSINESS_UNIT,
        active_field=None,
        volume=Volume(per="jobs", rate=0.1),
    ),
    _export(
        "inventory_adjustments",
        "inventory",
        "adjustments",
        "Inventory.V2.ExportAdjustmentsResponse",
        "Inventory adjustments (counts, write-offs) per warehouse or truck.",
        _BUSINESS_UNIT,
        volume=Volume(per="technicians", rate=3.0),
    ),
    _export(
        "inventory_returns",
        "inventory",
        "returns",
        "Inventory.V2.ExportReturnsResponse",
        "Inventory returned to vendors.",
        Reference("vendorId", "vendors"),
        Reference("purchaseOrderId", "purchase_orders"),
        volume=Volume(per="purchase_orders", rate=0.1),
    ),
    _export(
        "inventory_transfers",
        "inventory",
        "transfers",
        "Inventory.V2.ExportTransfersResponse",
        "Inventory transfers between warehouses and trucks.",
        volume=Volume(per="technicians", rate=3.0),
    ),
    _list(
        "vendors",
        "inventory",
        "vendors",
        "Inventory.V2.VendorResponse",
        "Vendors the company buys from.",
        volume=Volume(count=30),
    ),
    _list(
        "warehouses",
        "inventory",
        "warehouses",
        "Inventory.V2.WarehouseResponse",
        "Warehouses (inventory locations).",
        volume=Volume(count=5),
    ),
    # ---- pricebook ----
    _export(
        "pricebook_services",
        "pricebook",
        "services",
        "Pricebook.V2.ExportServiceResponse",
        "Pricebook services (flat-rate tasks) with prices and hours.",
        volume=Volume(count=300),
    ),
    _export(
        "pricebook_materials",
        "pricebook",
        "materials",
        "Pricebook.V2.ExportMaterialResponse",
        "Pricebook materials with cost and price.",
        volume=Volume(count=800),
    ),
    _export(
        "pricebook_equipment",
        "pricebook",
        "equipment",
        "Pricebook.V2.ExportEquipmentResponse",
        "Pricebook equipment (units sold and installed).",
        volume=Volume(count=150),
    ),
    _export(
        "pricebook_categories",
        "pricebook",
        "categories",
        "Pricebook.V2.ExportCategoryResponse",
        "Pricebook categories (nested).",
        volume=Volume(count=40),
    ),
    # ---- equipment, customer interactions, service agreements ----
    _export(
        "installed_equipment",
        "equipment-systems",
        "installed-equipment",
        "EquipmentSystems.V2.InstalledEquipmentResponse",
        "Equipment installed at customers' locations (make, model, serial, warranty).",
        _LOCATION,
        _CUSTOMER,
        volume=Volume(per="locations", rate=0.6),
    ),
    _export(
        "technician_ratings",
        "customer-interactions",
        "technician-ratings",
        "CustomerInteractions.V2.ExportTechnicianAssessmentResponse",
        "Customers' ratings (0-10) of the technicians on their jobs. Keyed by (jobId, "
        "technicianId): the records have no id.",
        _JOB,
        _TECHNICIAN,
        key=("jobId", "technicianId"),
        volume=Volume(per="jobs", rate=0.3),
    ),
    _export(
        "service_agreements",
        "service-agreements",
        "service-agreements",
        "ServiceAgreements.V2.ExportServiceAgreementResponse",
        "Commercial service agreements: term, billing and the locations covered.",
        _CUSTOMER,
        _BUSINESS_UNIT,
        volume=Volume(per="customers", rate=0.01),
    ),
    # ---- timesheets ----
    _export(
        "timesheet_activities",
        "timesheets",
        "activities",
        "Timesheets.V2.Activities.ActivityExportResponse",
        "Timesheet activities of employees (job and non-job time).",
        _EMPLOYEE,
        _JOB,
        _APPOINTMENT,
        Reference("activityTypeId", "timesheet_activity_types"),
        volume=Volume(per="appointments", rate=0.5),
    ),
    _export(
        "timesheet_activity_types",
        "timesheets",
        "activity-types",
        "Timesheets.V2.ActivityTypes.ActivityTypeExportResponse",
        "Timesheet activity types.",
        Reference("categoryId", "timesheet_activity_categories"),
        volume=Volume(count=15),
    ),
    _export(
        "timesheet_activity_categories",
        "timesheets",
        "activity-categories",
        "Timesheets.V2.ActivityCategories.ActivityCategoryExportResponse",
        "Timesheet activity categories.",
        volume=Volume(count=5),
    ),
)

# ServiceTitan's export of opportunities (sales module) is left out: the official document
# gives it no response schema, so nothing could be validated, generated or typed.


ENTITIES_BY_NAME: Mapping[str, Entity] = MappingProxyType({e.name: e for e in ENTITIES})


def get_entity(name: str) -> Entity:
    """Look up an entity by name, with an error that lists the known ones."""
    try:
        return ENTITIES_BY_NAME[name]
    except KeyError:
        known = ", ".join(ENTITIES_BY_NAME)
        raise KeyError(f"unknown ServiceTitan entity {name!r}; known entities: {known}") from None
