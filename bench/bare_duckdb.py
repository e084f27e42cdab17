"""The floor a new round's run is compared with: a bare DuckDB script that reads a round's IDP
and returnee lists, sums individuals by governorate and writes the result into a DuckDB file and
a Parquet file. No validation, no provenance, no history, no publication.

    python bench/bare_duckdb.py IDP.csv RETURNEE.csv OUT_DIR
"""

import sys
from pathlib import Path

import duckdb


def main(idp: Path, returnee: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bare.duckdb").unlink(missing_ok=True)
    with duckdb.connect(str(out / "bare.duckdb")) as con:
        con.execute("set enable_progress_bar = false")
        for name, path in (("idp", idp), ("returnee", returnee)):
            con.execute(
                f"create table {name} as select * from read_csv(?, header = true, all_varchar = true)",
                [str(path)],
            )
        con.execute(
            """
            create table by_governorate as
            select list_type, "Governorate" as governorate,
                   sum(replace("Individuals", ',', '')::bigint)::bigint as individuals
            from (select 'idp' as list_type, * from idp union all by name
                  select 'returnee' as list_type, * from returnee)
            where "Location ID" is not null and "Location ID" <> ''
            group by all order by all
            """
        )
        con.execute(f"copy by_governorate to '{out / 'by_governorate.parquet'}' (format parquet)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
