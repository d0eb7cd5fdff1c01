import sqlalchemy as sa
LITS = ["infinity", " Infinity ", "+infinity", "-INFINITY", "epoch", " epoch", "EPOCH ", "infinityx", "+-infinity",
 "epoch1", "\tinfinity", "infinity\n", "10000-01-01 00:00:00Z", "294247-01-10 04:00:54.775806Z", "294247-01-10 04:00:54.775807Z",
 "294276-12-31 23:59:59.999999Z", "294277-01-01 00:00:00Z", "2024-01-01 00:00:00+00 BC", "2024-01-01 00:00:00+00 bc",
 "4714-11-24 00:00:00+00 BC", "4714-11-23 23:59:59+00 BC", "4714-11-24 00:00:00+01 BC", "4714-11-24 00:00:00-01 BC", "0000-01-01 00:00:00Z", "0001-01-01 00:00:00Z BC",
 "0001-01-01 00:00:00Z", "2024-01-01T00:00:00Z BC", "2024-01-01 BC 00:00:00Z", "2024-01-01 00:00:00 BC+00", "2024-01-01 00:00:00+00BC", "2024-01-01 00:00:00+00  BC",
 "100000-01-01 00:00:00Z", "012024-01-01 00:00:00Z", "2024-01-01 00:00:00+00 AD", "now", "today", "2024-01-01", "2024-01-01 BC", "10000-01-01", "5874897-12-31", "5874898-01-01",
 "4714-11-24 BC", "4714-11-23 BC", "294247-01-10", "294247-01-11", "2024-01-01 00:00:00", "infinity BC", "Infinity Z", "-infinity+00", "  -infinity  ", "infinit", "2024-01-01 00:00:00.5+05:30 BC",
 " 2024-01-01 00:00:00Z", "2024-01-01 00:00:00Z ", "10000-01-01T00:00:00Z", "99999-12-31 23:59:59Z"]
def test_probe(engine):
    with engine.connect() as c:
        c.exec_driver_sql("SET TimeZone='UTC'")
        c.exec_driver_sql("SET DateStyle='ISO'")
        for t in ("timestamptz", "timestamp", "date"):
            for l in LITS:
                ok = c.execute(sa.text(f"select pg_input_is_valid(:l, '{t}')"), {"l": l}).scalar()
                v = c.execute(sa.text(f"select CAST(:l AS {t})::text, extract(epoch from CAST(:l AS {t}))"), {"l": l}).one() if ok else None
                print(t, repr(l), ok, v)
