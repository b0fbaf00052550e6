-- Change notifications of big statements stop counting at 101 customers: past 100 the payload is
-- "*" anyway (cia_notify_changes), so the statement triggers no longer collect and de-duplicate
-- every changed customer id (a sort or hash of millions of ids after a large import or delete).
CREATE OR REPLACE FUNCTION "cia_order_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "customerId"::text FROM new_rows LIMIT 101));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION "cia_order_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT "customerId"::text FROM new_rows UNION SELECT "customerId"::text FROM old_rows LIMIT 101));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION "cia_order_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "customerId"::text FROM old_rows LIMIT 101));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION "cia_customer_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "id"::text FROM new_rows LIMIT 101));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION "cia_customer_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "id"::text FROM old_rows LIMIT 101));
  RETURN NULL;
END $$;
