-- A verification covers the member's linked devices too (protocol 8.3): the safety number
-- changes when a device is added or removed, so the mark keeps which devices were compared
-- (a digest of their keys, app/core/verified_keys.py) and stops counting when they change.
-- Marks made before devices existed covered a member without linked devices: empty.

ALTER TABLE verified_keys ADD COLUMN devices BLOB NOT NULL DEFAULT x'';
