-- Per product and UTC calendar day, the 28 days up to and including T's day (cut at T):
-- the rows of int_daily_product_movements_listed, with the refresh instant. A view, as
-- days_to_stockout: the rows are stored per product, and only as_of changes for every row
-- at every refresh.
{{ config(materialized='view') }}

select
    {{ as_of_timestamp() }} as as_of,
    product_id,
    calendar_date,
    units_sold,
    units_restocked,
    on_hand_start,
    on_hand_end,
    is_in_stock
from {{ ref('int_daily_product_movements_listed') }}
