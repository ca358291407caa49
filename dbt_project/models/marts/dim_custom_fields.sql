with

custom_fields as (

    select * from {{ ref('int_custom_field_values__unioned') }}

)

{{ select_with_connection_name('custom_fields') }}
