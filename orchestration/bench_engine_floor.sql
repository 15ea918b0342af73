-- The engine floor of `stockout bench`: the hourly refresh's answer (days to stock-out and
-- the at-risk list, DESIGN.md §4) as one hand-written DuckDB query over the landed files,
-- with no dbt, no Dagster, no incremental state. It reads the 28-day window of events (the
-- new hour included) and the newest inventory snapshot, and writes two Parquet files.
--
-- Placeholders (a dollar sign and a name in braces) are filled in by orchestration/bench.py:
--   as_of_epoch       T, Unix seconds
--   snapshot_file     the newest snapshot read at or before T, itself inside the window
--   sales_files, restocks_files, products_file, suppliers_file   landed Parquet
--   days_to_stockout_file, at_risk_file                          outputs
--
-- Simplifications, all of which make the floor cheaper than the warehouse's work:
--   * events are not de-duplicated by id (the generated history has no re-deliveries);
--   * stock at a slice's start is on_hand(T) minus the slice movements since, without the
--     shrinkage found by older snapshots (the warehouse reconciles each snapshot once);
--   * stockout_probability_7d = P(D >= on_hand), D ~ Poisson(7 * demand_rate), by a normal
--     approximation (Wilson-Hilferty's, through P(D >= k) = P(chi-square(2k) <= 2 mu)), never
--     the negative binomial the warehouse uses for over-dispersed sales;
--   * no EWMA velocity, trend, projected date or suggested reorder quantity.

-- The standard normal CDF (Abramowitz & Stegun 7.1.26, error below 1e-6): DuckDB has no erf.
create or replace temp macro normal_cdf(z) as (
    with t as (select 1 / (1 + 0.3275911 * abs(z) / sqrt(2)) as t)
    select 0.5 + sign(z) * 0.5 * (1 - (0.254829592 * t - 0.284496736 * t ^ 2 + 1.421413741 * t ^ 3
                                      - 1.453152027 * t ^ 4 + 1.061405429 * t ^ 5) * exp(-z * z / 2))
    from t
);

copy (
    with events as (
        -- the 28-day window (T - 28 days, T]; files are in time order, so row-group
        -- statistics on `timestamp` skip the older files
        select pid as product_id, timestamp, quantity as units_sold, 0 as units_restocked
        from read_parquet(${sales_files})
        where timestamp > ${as_of_epoch} - 28 * 86400 and timestamp <= ${as_of_epoch}
        union all
        select pid, timestamp, 0, quantity
        from read_parquet(${restocks_files})
        where timestamp > ${as_of_epoch} - 28 * 86400 and timestamp <= ${as_of_epoch}
    ),

    snapshot as (
        select pid as product_id, quantity, snapshot_at
        from read_parquet('${snapshot_file}')
    ),

    slice_changes as (
        -- per product and day slice k (the 24 hours (T - (k+1) days, T - k days]) that moved
        select
            events.product_id,
            cast((${as_of_epoch} - events.timestamp) // 86400 as integer) as slice_index,
            sum(events.units_sold) as units_sold,
            sum(events.units_restocked) as units_restocked,
            sum(events.units_restocked - events.units_sold) as net_change,
            sum(case when events.timestamp > snapshot.snapshot_at
                     then events.units_restocked - events.units_sold else 0 end) as change_since_snapshot
        from events
        left join snapshot on snapshot.product_id = events.product_id
        group by all
    ),

    walked as (
        -- on_hand(T) = snapshot + movements since it; stock at the start of slice k is on_hand(T)
        -- minus the changes of slices 0..k. Between two changed slices k and next_k stock stays
        -- at slice k's start value, so slices k+1 .. next_k-1 are in stock iff that is > 0.
        select
            slice_changes.product_id,
            slice_changes.slice_index,
            slice_changes.units_sold,
            slice_changes.units_restocked,
            coalesce(snapshot.quantity, 0)
                + sum(slice_changes.change_since_snapshot) over product_slices_all as on_hand,
            coalesce(snapshot.quantity, 0)
                + sum(slice_changes.change_since_snapshot) over product_slices_all
                - sum(slice_changes.net_change) over product_slices_so_far as stock_at_start,
            coalesce(lead(slice_changes.slice_index) over product_slices, 28) as next_slice_index,
            min(slice_changes.slice_index) over product_slices_all as first_slice_index
        from slice_changes
        left join snapshot on snapshot.product_id = slice_changes.product_id
        window
            product_slices as (partition by slice_changes.product_id order by slice_changes.slice_index),
            product_slices_so_far as (
                partition by slice_changes.product_id order by slice_changes.slice_index
                rows between unbounded preceding and current row
            ),
            product_slices_all as (partition by slice_changes.product_id)
    ),

    moved_products as (
        select
            product_id,
            any_value(on_hand) as on_hand,
            sum(case when slice_index < 7 then units_sold else 0 end) as units_sold_7d,
            sum(units_sold) as units_sold_28d,
            sum(units_sold * units_sold) as units_sold_squares_28d,
            -- the untouched slices before the first change (newest first) hold on_hand(T)
            any_value(case when on_hand > 0 then least(first_slice_index, 7) else 0 end)
                + sum(case when slice_index < 7
                           then cast(stock_at_start > 0 or units_sold > 0 as integer)
                                + (least(next_slice_index, 7) - slice_index - 1) * cast(stock_at_start > 0 as integer)
                           else 0 end) as in_stock_days_7d,
            any_value(case when on_hand > 0 then first_slice_index else 0 end)
                + sum(cast(stock_at_start > 0 or units_sold > 0 as integer)
                      + (next_slice_index - slice_index - 1) * cast(stock_at_start > 0 as integer)) as in_stock_days_28d
        from walked
        group by product_id
    ),

    per_product as (
        -- every catalogue product; one that did not move in 28 days sat at its snapshot quantity
        select
            products.id as product_id,
            products.name as product_name,
            suppliers.lead_time_days,
            coalesce(moved.on_hand, snapshot.quantity, 0) as on_hand,
            coalesce(moved.units_sold_7d, 0) as units_sold_7d,
            coalesce(moved.units_sold_28d, 0) as units_sold_28d,
            coalesce(moved.units_sold_squares_28d, 0) as units_sold_squares_28d,
            coalesce(moved.in_stock_days_7d, case when snapshot.quantity > 0 then 7 else 0 end) as in_stock_days_7d,
            coalesce(moved.in_stock_days_28d, case when snapshot.quantity > 0 then 28 else 0 end) as in_stock_days_28d
        from read_parquet('${products_file}') as products
        left join read_parquet('${suppliers_file}') as suppliers on suppliers.id = products.supplier_id
        left join moved_products as moved on moved.product_id = products.id
        left join snapshot on snapshot.product_id = products.id
    ),

    velocities as (
        select
            *,
            units_sold_7d / nullif(in_stock_days_7d, 0) as velocity_7d,
            units_sold_28d / nullif(in_stock_days_28d, 0) as velocity_28d,
            coalesce(units_sold_7d / nullif(in_stock_days_7d, 0), units_sold_28d / nullif(in_stock_days_28d, 0))
                as demand_rate,
            sqrt(greatest(units_sold_squares_28d - units_sold_28d * units_sold_28d / 28.0, 0) / 27.0)
                as daily_sales_stddev_28d
        from per_product
    ),

    risk as (
        select
            *,
            case
                when demand_rate > 0 and on_hand <= 0 then 0.0
                when demand_rate > 0 then on_hand / demand_rate
            end as days_to_stockout,
            case
                when demand_rate > 0 and on_hand <= 0 then 1.0
                when demand_rate > 0
                    then normal_cdf(3 * sqrt(on_hand) * (cbrt(7 * demand_rate / on_hand) - 1 + 1 / (9 * on_hand)))
                else 0.0
            end as stockout_probability_7d
        from velocities
    )

    select
        cast(${as_of_epoch} as bigint) as as_of_epoch,
        product_id,
        product_name,
        lead_time_days,
        case when on_hand <= 0 then 'out_of_stock' else 'at_risk' end as stock_status,
        on_hand,
        units_sold_7d,
        in_stock_days_7d,
        velocity_7d,
        velocity_28d,
        demand_rate,
        daily_sales_stddev_28d,
        days_to_stockout,
        stockout_probability_7d,
        coalesce(days_to_stockout <= 7, false) as is_at_risk,
        coalesce(days_to_stockout < lead_time_days * 1.5, false) as reorder_recommended
    from risk
) to '${days_to_stockout_file}' (format parquet);

copy (
    select
        *,
        row_number() over (
            order by stockout_probability_7d desc, days_to_stockout, product_id
        ) as risk_rank
    from read_parquet('${days_to_stockout_file}')
    where is_at_risk
) to '${at_risk_file}' (format parquet);
