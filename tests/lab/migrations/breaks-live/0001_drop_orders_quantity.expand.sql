-- Not additive: the live release reads quantity (its migrations/queries.sql).
ALTER TABLE orders DROP COLUMN quantity;
