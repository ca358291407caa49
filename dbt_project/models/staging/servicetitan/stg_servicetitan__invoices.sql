with

source as (

    select * from {{ source('servicetitan', 'invoices') }}

),

renamed as (

    select
        -- keys
        _tenant_id as tenant_id,
        id as invoice_id,
        {{ st_id("payload ->> '$.customer.id'") }} as customer_id,
        {{ st_id("payload ->> '$.location.id'") }} as location_id,
        {{ st_id("payload ->> '$.businessUnit.id'") }} as business_unit_id,
        {{ st_id("payload ->> '$.job.id'") }} as job_id,
        {{ st_id("payload ->> '$.projectId'") }} as project_id,
        {{ st_id("payload ->> '$.membershipId'") }} as membership_id,
        -- Set on an adjustment invoice: the invoice it adjusts (credits or adds to).
        {{ st_id("payload ->> '$.adjustmentToId'") }} as adjustment_to_invoice_id,
        {{ st_id("payload ->> '$.invoiceType.id'") }} as invoice_type_id,
        {{ st_id("payload ->> '$.batch.id'") }} as batch_id,
        {{ st_id("payload ->> '$.employeeInfo.id'") }} as employee_id,
        {{ st_id("payload ->> '$.assignedTo.id'") }} as assigned_to_id,
        {{ st_id("payload ->> '$.salesTaxCode.id'") }} as sales_tax_code_id,
        {{ st_id("payload ->> '$.taxZoneId'") }} as tax_zone_id,

        -- attributes
        payload ->> '$.referenceNumber' as reference_number,
        payload ->> '$.invoiceConfiguration' as invoice_configuration,
        payload ->> '$.invoiceType.name' as invoice_type_name,
        payload ->> '$.sentStatus' as sent_status,
        payload ->> '$.reviewStatus' as review_status,
        payload ->> '$.syncStatus' as sync_status,
        payload ->> '$.termName' as term_name,
        payload ->> '$.summary' as summary,
        payload ->> '$.createdBy' as created_by,
        payload ->> '$.employeeInfo.name' as employee_name,
        payload ->> '$.assignedTo.name' as assigned_to_name,
        payload ->> '$.batch.number' as batch_number,
        payload ->> '$.salesTaxCode.name' as sales_tax_code_name,
        {{ st_decimal("payload ->> '$.salesTaxCode.taxRate'") }} as sales_tax_rate,

        -- references flattened for analysts (names as of the invoice)
        payload ->> '$.customer.name' as customer_name,
        payload ->> '$.location.name' as location_name,
        payload ->> '$.businessUnit.name' as business_unit_name,
        payload ->> '$.job.number' as job_number,
        payload ->> '$.job.type' as job_type_name,

        -- addresses
        {{ st_address('$.customerAddress', 'customer_address') }},
        {{ st_address('$.locationAddress', 'location_address') }},

        -- money, exact from ServiceTitan's strings
        {{ st_money("payload ->> '$.subTotal'") }} as subtotal,
        {{ st_money("payload ->> '$.salesTax'") }} as sales_tax,
        {{ st_money("payload ->> '$.discountTotal'") }} as discount_total,
        {{ st_money("payload ->> '$.total'") }} as total,
        {{ st_money("payload ->> '$.balance'") }} as balance,

        -- flags
        active as is_active,
        {{ st_id("payload ->> '$.adjustmentToId'") }} is not null as is_adjustment,

        -- json
        payload -> '$.customFields' as custom_fields,
        coalesce(json_array_length(payload -> '$.items'), 0) as embedded_item_count,

        -- dates and timestamps (UTC). invoiceDate and dueDate are business dates sent as
        -- midnight UTC; their UTC calendar date is the date analysts expect.
        {{ st_timestamp("payload ->> '$.invoiceDate'") }} as invoiced_at,
        {{ st_utc_date(st_timestamp("payload ->> '$.invoiceDate'")) }} as invoice_date,
        {{ st_utc_date(st_timestamp("payload ->> '$.dueDate'")) }} as due_date,
        {{ st_timestamp("payload ->> '$.paidOn'") }} as paid_at,
        {{ st_timestamp("payload ->> '$.depositedOn'") }} as deposited_at,
        {{ st_record_timestamps_and_lineage() }}

    from source

)

select * from renamed
