SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
 SELECT concat_ws(':', 'rel', n.nspname, c.relname, c.relkind::text, c.relacl::text,
                  array_to_string(c.reloptions, ','), c.relpersistence::text) AS x
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
     AND n.nspname NOT LIKE 'pg_temp%'
 UNION ALL SELECT concat_ws(':', 'att', a.attrelid::regclass::text, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
                  pg_get_expr(d.adbin, d.adrelid))
   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace
   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
 UNION ALL SELECT concat_ws(':', 'con', conrelid::regclass::text, conname, pg_get_constraintdef(oid))
   FROM pg_constraint WHERE connamespace = 'public'::regnamespace
 UNION ALL SELECT concat_ws(':', 'trg', tgrelid::regclass::text, tgname, tgenabled::text)
   FROM pg_trigger WHERE NOT tgisinternal
 UNION ALL SELECT concat_ws(':', 'fn', p.oid::regprocedure::text, p.proacl::text)
   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
 UNION ALL SELECT concat_ws(':', 'nsp', nspname, nspacl::text) FROM pg_namespace
 UNION ALL SELECT concat_ws(':', 'ext', extname, extversion) FROM pg_extension
 UNION ALL SELECT concat_ws(':', 'set', setrole::text, array_to_string(setconfig, ','))
   FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
 UNION ALL SELECT concat_ws(':', 'db', datacl::text, datconnlimit::text, datallowconn::text)
   FROM pg_database WHERE datname = current_database()
 UNION ALL SELECT concat_ws(':', 'seq', schemaname, sequencename) FROM pg_sequences
 UNION ALL SELECT concat_ws(':', 'pol', polname) FROM pg_policy
 UNION ALL SELECT concat_ws(':', 'rule', schemaname, tablename, rulename) FROM pg_rules
   WHERE schemaname NOT IN ('pg_catalog')
 UNION ALL SELECT concat_ws(':', 'default_acl', defaclacl::text) FROM pg_default_acl
 UNION ALL SELECT concat_ws(':', 'pub', pubname) FROM pg_publication
) s
