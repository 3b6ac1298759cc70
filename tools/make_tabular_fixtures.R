#!/usr/bin/Rscript
# Exports Debian r-cran-modeldata's credit_data (4,454 applicants, 13 features and Status) once, as CSV.
# Called by tools/make_tabular_fixtures.py; run from the repository root:  Rscript tools/make_tabular_fixtures.R
# Missing values are written as empty fields (ExplainCluster's CSV reader treats an empty field as missing).
# R's arrow package is not in Debian, so no Parquet is written here: the tests write Parquet copies of this CSV with
# Parquet.Net (the library the engine reads Parquet with), in the row groups each test needs.
suppressMessages(library(modeldata))
data(credit_data)
write.csv(credit_data, "tests/fixtures/tabular/credit_data.csv", row.names = FALSE, na = "")
