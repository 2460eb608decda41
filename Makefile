# Makefile -- PGXS build of nadia_bgw.so (worker/) and the extension script.
#
#   make                build
#   make install        install into the PostgreSQL found by $(PG_CONFIG)
#   make test           the full test suite (regress/run-tests.sh)
#   make demo           the demo (demo/run-demo.sh)

EXTENSION = nadia_bgw
MODULE_big = nadia_bgw
WORKER_SRCS = $(sort $(wildcard worker/*.c))
OBJS = $(WORKER_SRCS:.c=.o)

# The versioned extension script is assembled from one fragment per concern
# (sql/1.0/NN_concern.sql) so that each module owns its own SQL.
DATA_built = sql/nadia_bgw--1.0.sql
EXTRA_CLEAN = sql/nadia_bgw--1.0.sql

# Our own files are built with every warning an error.  PostgreSQL's headers
# trip -Wunused-parameter (PG_FUNCTION_ARGS) and -Wmissing-field-initializers,
# so those two are silenced; everything else in -Wextra stays on.
PG_CPPFLAGS = -Iworker
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = -lcjson

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header changes
$(OBJS): $(wildcard worker/*.h)

sql/nadia_bgw--1.0.sql: $(sort $(wildcard sql/1.0/*.sql))
	cat $^ > $@

.PHONY: test demo
test:
	bash regress/run-tests.sh

demo:
	bash demo/run-demo.sh
