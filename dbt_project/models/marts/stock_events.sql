-- When, in the 28 days up to T, each product went out of stock, came back in stock, or fell
-- below its reorder point: the events of int_stock_events_detected, with the refresh instant.
-- A view, as days_to_stockout: the events are stored per product, and only as_of changes
-- for every row at every refresh.
{{ config(materialized='view') }}

select
    {{ as_of_timestamp() }} as as_of,
    product_id,
    event_date,
    event_at,
    event_type,
    on_hand_before,
    on_hand_after,
    reorder_point
from {{ ref('int_stock_events_detected') }}
