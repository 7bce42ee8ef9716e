-- The demo app's queries (bgdemo/app.py ORDERS_QUERY): a migration must leave them working.
SELECT id, item, quantity FROM orders ORDER BY id LIMIT 20;
