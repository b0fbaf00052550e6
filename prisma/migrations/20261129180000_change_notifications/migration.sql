-- Change notifications (src/db/changes.ts): every committed write to orders or customers tells the
-- serving processes which customers changed, so they drop cached predictions at once — whoever
-- wrote (the API on any replica, `npm run import`, `db:seed`, plain SQL). NOTIFY is delivered on
-- commit and dropped on rollback. One statement-level trigger per table and event; a statement
-- touching more than 100 customers announces "*" (everything), keeping payloads far below
-- PostgreSQL's 8000-byte limit.
CREATE FUNCTION "cia_notify_changes"(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF ids IS NULL OR cardinality(ids) = 0 THEN
    RETURN;
  ELSIF cardinality(ids) > 100 THEN
    PERFORM pg_notify('cia_changes', '*');
  ELSE
    PERFORM pg_notify('cia_changes', 'c:' || array_to_string(ids, ','));
  END IF;
END $$;

CREATE FUNCTION "cia_order_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "customerId"::text FROM new_rows));
  RETURN NULL;
END $$;

CREATE FUNCTION "cia_order_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT "customerId"::text FROM new_rows UNION SELECT "customerId"::text FROM old_rows));
  RETURN NULL;
END $$;

CREATE FUNCTION "cia_order_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "customerId"::text FROM old_rows));
  RETURN NULL;
END $$;

CREATE FUNCTION "cia_customer_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "id"::text FROM new_rows));
  RETURN NULL;
END $$;

CREATE FUNCTION "cia_customer_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "cia_notify_changes"(ARRAY(SELECT DISTINCT "id"::text FROM old_rows));
  RETURN NULL;
END $$;

CREATE TRIGGER "Order_notify_insert" AFTER INSERT ON "Order"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "cia_order_inserted"();
CREATE TRIGGER "Order_notify_update" AFTER UPDATE ON "Order"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "cia_order_updated"();
CREATE TRIGGER "Order_notify_delete" AFTER DELETE ON "Order"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "cia_order_deleted"();
CREATE TRIGGER "Customer_notify_update" AFTER UPDATE ON "Customer"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "cia_customer_updated"();
CREATE TRIGGER "Customer_notify_delete" AFTER DELETE ON "Customer"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "cia_customer_deleted"();
