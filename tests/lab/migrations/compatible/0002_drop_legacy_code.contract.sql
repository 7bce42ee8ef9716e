-- Only the releases before this one wrote legacy_code: removed once no rollback can bring them back.
ALTER TABLE orders DROP COLUMN legacy_code;
