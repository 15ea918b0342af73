{#- The day slices of DESIGN.md §4: slice k is (T - (k+1)*24h, T - k*24h], k = 0 is the
    newest. An event at exactly T is in slice 0; one at exactly T - 7 days is in slice 7,
    outside a 7-day window. -#}
{% macro day_slice_index(epoch_seconds) -%}
    cast(floor(({{ as_of_epoch() }} - {{ epoch_seconds }}) / 86400.0) as integer)
{%- endmacro %}

{#- The stock of each product through the day slices of the 28-day window, one row per product
    and slice with a stock change, after one row per product of `stock` for the instant T
    (slice_index -1, no change). Each row has: units sold and received, the shrinkage found by
    snapshots read in the slice (losses and surpluses apart); on_hand_at_start, the stock at
    the slice's start, on_hand(T) from `stock` less the net change from that instant up to T
    (exactly on_hand at that instant from its nearest snapshot, DESIGN.md §4; on_hand(T) on
    the row of T); and older_changed_slice, the next older slice with a change (28 when
    none): the slices in between had no change, so they all started with the stock this
    slice started with (for the row of T: the slices newer than the newest change, all 28
    without one, started with on_hand(T)).
    `windowed` holds the window's movements at instants (int_product_movements_windowed),
    `snapshots` the reconciled inventory reads, `stock` on_hand(T) per product
    (int_stock_on_hand_computed, or a relation with its product_id and on_hand and the
    `carried` columns, which every row of the product gets from the row of T as on_hand does);
    products that moved but are not in `stock` have no rows. Slices without a change have no
    row, so the work follows the activity of the last 28 days, not products x 28; and on_hand
    comes with each product's rows in the same pass, not from a join (at the benchmark tier,
    joining 10 M products' stock to 21 M changed slices ran out of DuckDB's memory limit). -#}
{% macro stock_through_day_slices(windowed, snapshots, stock, some, carried=[]) -%}
    {%- set T = as_of_epoch() -%}
    select
        product_id,
        slice_index,
        units_sold,
        units_restocked,
        losses,
        surpluses,
        on_hand - change_to_t as on_hand_at_start,
        {%- for column in carried %}
        {{ column }},
        {%- endfor %}
        older_changed_slice
    from (
        select
            product_id,
            slice_index,
            units_sold,
            units_restocked,
            losses,
            surpluses,
            net_change,
            -- the row of T comes first
            first_value(on_hand) over by_slice as on_hand,
            {%- for column in carried %}
            first_value({{ column }}) over by_slice as {{ column }},
            {%- endfor %}
            first_value(slice_index) over by_slice as first_slice,
            sum(net_change) over (by_slice rows between unbounded preceding and current row) as change_to_t,
            lead(slice_index, 1, 28) over by_slice as older_changed_slice
        from (
            select
                product_id,
                slice_index,
                cast(sum(units_sold) as bigint) as units_sold,
                cast(sum(units_restocked) as bigint) as units_restocked,
                cast(sum(least(shrinkage, 0)) as bigint) as losses,
                cast(sum(greatest(shrinkage, 0)) as bigint) as surpluses,
                cast(sum(units_restocked - units_sold + shrinkage) as bigint) as net_change,
                cast(null as bigint) as on_hand
                {%- for column in carried %},
                null as {{ column }}
                {%- endfor %}
            from (
                select
                    product_id,
                    {{ day_slice_index('at_epoch') }} as slice_index,
                    units_sold,
                    units_restocked,
                    0 as shrinkage
                from {{ windowed }}
                where {{ is_product_to_refresh('product_id', some) }}
                union all
                select
                    product_id,
                    {{ day_slice_index('snapshot_at_epoch') }} as slice_index,
                    0 as units_sold,
                    0 as units_restocked,
                    shrinkage
                from {{ snapshots }}
                where shrinkage <> 0
                  and snapshot_at_epoch > {{ T - 28 * 86400 }}
                  and snapshot_at_epoch <= {{ T }}
                  and {{ is_product_to_refresh('product_id', some) }}
            ) as changes
            group by product_id, slice_index
            union all
            select product_id, -1, 0, 0, 0, 0, 0, on_hand{% for column in carried %}, {{ column }}{% endfor %}
            from {{ stock }}
            where {{ is_product_to_refresh('product_id', some) }}
        ) as slices
        window by_slice as (partition by product_id order by slice_index)
    ) as walked
    where first_slice = -1
{%- endmacro %}

{#- The day slices first .. last - 1 as bits of a bigint, slice k as bit k (2^k), for sets of
    slices that are added up with bit_or and counted with bit_count. -#}
{% macro slice_bits(first, last) -%}
    ((cast(1 as bigint) << ({{ last }})) - (cast(1 as bigint) << ({{ first }})))
{%- endmacro %}

{#- The weight (1 - alpha)^k of day slice k in the exponentially weighted velocity, times
    `units`, as an exact decimal: sums of them do not depend on the order the rows are added
    in, so a re-run gives the same value to the last bit. -#}
{% macro slice_weight(decay, k, units=1) -%}
    cast(power({{ decay }}, {{ k }}) * {{ units }} as decimal(38, 18))
{%- endmacro %}
