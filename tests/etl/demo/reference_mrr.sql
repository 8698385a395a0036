-- METRICS.md's MRR, written independently of the generator: month-end MRR per
-- customer and currency from invoice lines, prices and subscriptions.
WITH months AS (
    SELECT DISTINCT month, month + INTERVAL 1 MONTH AS boundary FROM demo_truth_mrr
),
counted AS (
    SELECT l.subscription_id, l.subscription_item_id, l.price_id, l.credited_invoice_id,
           l.credited_line_id, l.proration, l.period_start, l.period_end, l.currency,
           i.customer_id, s.ended_at, p.interval, p.interval_count,
           (l.amount - l.discount_amount - l.inclusive_tax_amount)
             / (p.interval_count * CASE p.interval WHEN 'day' THEN 12 / 365 WHEN 'week' THEN 12 / 52
                                                    WHEN 'month' THEN 1 WHEN 'year' THEN 12 END) AS monthly
    FROM invoice_lines l
    JOIN invoices i ON i.id = l.invoice_id
    JOIN prices p ON p.id = l.price_id
    JOIN subscriptions s ON s.id = l.subscription_id
    WHERE i.status IN ('open', 'paid') AND l.kind = 'subscription' AND p.usage_type = 'licensed'
),
-- A proration's full period: the line it credits, else the regular line of
-- its item and price holding its start, else one nominal interval of its price.
valued AS (
    SELECT c.*, c.monthly * CASE WHEN NOT c.proration THEN 1 ELSE coalesce(
        (SELECT epoch(r.period_end) - epoch(r.period_start) FROM invoice_lines r
         WHERE r.invoice_id = c.credited_invoice_id AND r.id = c.credited_line_id AND NOT r.proration),
        (SELECT epoch(r.period_end) - epoch(r.period_start) FROM counted r
         WHERE r.subscription_item_id = c.subscription_item_id AND r.price_id = c.price_id
           AND NOT r.proration AND r.period_start <= c.period_start AND c.period_start < r.period_end
         LIMIT 1),
        c.interval_count * CASE c.interval WHEN 'day' THEN 86400 WHEN 'week' THEN 604800
                                           WHEN 'month' THEN 2629800 WHEN 'year' THEN 31557600 END
        ) / (epoch(c.period_end) - epoch(c.period_start)) END AS m
    FROM counted c
),
per_subscription AS (
    SELECT mo.month, v.customer_id, v.currency, v.subscription_id, greatest(sum(v.m), 0) AS mrr
    FROM months mo JOIN valued v
      ON v.period_start < mo.boundary AND v.period_end >= mo.boundary
     AND (v.ended_at IS NULL OR v.ended_at >= mo.boundary)
    GROUP BY ALL
)
SELECT month, customer_id, currency, sum(mrr) AS mrr
FROM per_subscription GROUP BY ALL HAVING sum(mrr) > 0
