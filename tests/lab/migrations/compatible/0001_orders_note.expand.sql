-- Additive: the live release does not read it and keeps working.
ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT '';
