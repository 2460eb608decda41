# Makefile -- PGXS build of nadia_bgw.so (worker/) and the extension script.
#
#   make                build
#   make install        install into the PostgreSQL found by $(PG_CONFIG)
#   make test           the full test suite (regress/run-tests.sh)
#   make demo           the demo (demo/run-demo.sh)
#   make fuzz           the libFuzzer target of nadia-mcp (clang)

EXTENSION = nadia_bgw
MODULE_big = nadia_bgw
# one directory per module (docs/architecture.md, "Modules")
WORKER_SRCS = $(sort $(wildcard worker/*/*.c))
OBJS = $(WORKER_SRCS:.c=.o)

# Version 1.0 is released: its script is kept exactly as shipped.  Every
# later SQL change goes into an update script, assembled from one fragment
# per concern (sql/1.1/NN_concern.sql) so that each module owns its own SQL.
# CREATE EXTENSION installs 1.0 and applies the updates, as contrib's
# pg_stat_statements does, so fresh and updated installs run the same SQL.
DATA = sql/nadia_bgw--1.0.sql
DATA_built = sql/nadia_bgw--1.0--1.1.sql
EXTRA_CLEAN = sql/nadia_bgw--1.0--1.1.sql

# Our own files are built with every warning an error.  PostgreSQL's headers
# trip -Wunused-parameter (PG_FUNCTION_ARGS) and -Wmissing-field-initializers,
# so those two are silenced; everything else in -Wextra stays on.
PG_CPPFLAGS = -Iworker
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

# The test build (make NADIA_TEST=1, what regress/run-tests.sh builds)
# adds the nadia_bgw.debug_* settings that inject failures and delays;
# a normal build does not define them.
ifdef NADIA_TEST
PG_CPPFLAGS += -DNADIA_TEST
endif
SHLIB_LINK = -lcjson

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header changes
$(OBJS): $(wildcard worker/*/*.h)

# the directory too: removing a fragment must rebuild the script as well
sql/nadia_bgw--1.0--1.1.sql: $(sort $(wildcard sql/1.1/*.sql)) sql/1.1
	cat $(filter %.sql,$^) > $@

.PHONY: test demo
test:
	bash regress/run-tests.sh

demo:
	bash demo/run-demo.sh

# nadia-mcp, the stdio MCP server: a client program (libpq + cJSON), built
# with its own rule since PGXS builds one module per Makefile, and
# installed next to psql.
MCP_SRCS = $(sort $(wildcard mcp/*.c))
MCP_HDRS = $(wildcard mcp/*.h)
MCP_CFLAGS = -O2 -g -std=gnu11 -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir)
MCP_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq -lcjson -lm

all: mcp/nadia-mcp

mcp/nadia-mcp: $(MCP_SRCS) $(MCP_HDRS)
	$(CC) $(MCP_CFLAGS) -o $@ $(MCP_SRCS) $(MCP_LIBS)

install: install-mcp
.PHONY: install-mcp fuzz
install-mcp: mcp/nadia-mcp
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) mcp/nadia-mcp '$(DESTDIR)$(bindir)/nadia-mcp'

# The fuzz target links everything but main.c, with ASan/UBSan/LSan.
# FUZZ_BIN may point elsewhere (the test suite builds it in its work
# directory from a read-only checkout).
FUZZ_CC ?= clang
FUZZ_BIN ?= mcp/fuzz/nadia-mcp-fuzz
$(FUZZ_BIN): $(filter-out mcp/main.c,$(MCP_SRCS)) $(MCP_HDRS) mcp/fuzz/fuzz_message.c
	$(FUZZ_CC) -g -O1 -std=gnu11 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Imcp -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $(filter-out mcp/main.c,$(MCP_SRCS)) mcp/fuzz/fuzz_message.c $(MCP_LIBS)

fuzz: $(FUZZ_BIN)

EXTRA_CLEAN += mcp/nadia-mcp mcp/fuzz/nadia-mcp-fuzz
