/*-------------------------------------------------------------------------
 *
 * statement_text.c
 *		What of another session's statement text nadia_bgw may store.
 *
 * pg_stat_statements normalizes only optimizable statements: the
 * constants of a SELECT, INSERT, UPDATE, DELETE or MERGE become $1, $2...
 * Utility statements are kept verbatim (on 16+ some are normalized, others
 * not), and with them whatever they carry: COPY ... PROGRAM
 * 'PGPASSWORD=...', a user:password@ URI in CREATE SUBSCRIPTION, the body
 * of a DO block, SET app.api_key = '...', CALL p('card number'), ALTER
 * ROLE ... PASSWORD.  A text is therefore stored only when we can check
 * that it holds no literal:
 *
 *	- the text is parsed (raw grammar, no catalog access).  The $n
 *	  placeholders of a normalized text are first replaced by '' string
 *	  constants of the same length, so that texts PostgreSQL itself
 *	  cannot parse again ("interval $1") still parse, at the same offsets;
 *	- a SELECT (not SELECT INTO), VALUES, TABLE, INSERT, UPDATE, DELETE or
 *	  MERGE, with or without WITH, whose only constants are placeholders,
 *	  integers (ORDER BY 1, varchar(20)), booleans and NULL, is stored as
 *	  it is: that is PostgreSQL's normalized text.  One that still holds a
 *	  string, bit-string or non-integer numeric constant was not normalized
 *	  (an entry created after an eviction, for instance): only its
 *	  command tag is stored;
 *	- every other statement -- every utility statement, on every version
 *	  alike -- is stored as its command tag and the names of the objects
 *	  it acts on (COPY public.t, CREATE SUBSCRIPTION s, SET app.api_key,
 *	  CALL app.p, ALTER ROLE victim, COMMENT public.t, DROP TABLE a, b, DO);
 *	- a text that does not parse is stored as "<FIRST-WORD statement>".
 *
 * The same function rewrites the texts already in history when the
 * extension is updated (nadia_bgw._safe_statement_text()).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "core/core.h"

PG_FUNCTION_INFO_V1(nadia_bgw_safe_statement_text);

/*
 * Replace each $n placeholder (not part of an identifier) by a string
 * constant of the same length: "$1" -> "''", "$12" -> "' '".
 */
static char *
placeholders_to_constants(const char *query)
{
	char	   *s = pstrdup(query);
	char	   *p;

	for (p = s; *p; p++)
	{
		char	   *e;

		if (*p != '$' || !isdigit((unsigned char) p[1]))
			continue;
		if (p > s && (isalnum((unsigned char) p[-1]) || p[-1] == '_' ||
					  p[-1] == '$' || IS_HIGHBIT_SET(p[-1])))
			continue;
		for (e = p + 1; isdigit((unsigned char) *e); e++)
			;
		*p = '\'';
		memset(p + 1, ' ', e - p - 2);
		e[-1] = '\'';
		p = e - 1;
	}
	return s;
}

typedef struct LiteralSearch
{
	const char *original;		/* the text before placeholders were replaced */
	bool		found;
} LiteralSearch;

/* true when a constant that is not a placeholder could carry data */
static bool
find_literal(Node *node, void *arg)
{
	LiteralSearch *ls = (LiteralSearch *) arg;

	if (node == NULL)
		return false;
	if (IsA(node, A_Const))
	{
		A_Const    *c = (A_Const *) node;

		if (c->location >= 0 && ls->original[c->location] == '$')
			return false;		/* a placeholder we replaced */
		if (c->isnull)
			return false;
		switch (nodeTag(&c->val))
		{
			case T_Integer:
			case T_Boolean:
				return false;
			default:
				ls->found = true;
				return true;
		}
	}
	return raw_expression_tree_walker(node, find_literal, arg);
}

/* statements whose normalized text we store whole */
static bool
is_optimizable(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_SelectStmt:
			return ((SelectStmt *) stmt)->intoClause == NULL;
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
		case T_MergeStmt:
			return true;
		default:
			return false;
	}
}

static void
add_name(StringInfo buf, const char *name)
{
	if (name == NULL)
		return;
	appendStringInfoChar(buf, ' ');
	appendStringInfoString(buf, quote_identifier(name));
}

/* a setting's name (app.api_key) as SET takes it, quoted if need be */
static void
add_setting(StringInfo buf, const char *name)
{
	const char *p;

	if (name == NULL)
		return;
	for (p = name; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '.'))
		{
			add_name(buf, name);
			return;
		}
	appendStringInfo(buf, " %s", name);
}

static void
add_rangevar(StringInfo buf, RangeVar *rv)
{
	if (rv == NULL)
		return;
	appendStringInfoChar(buf, ' ');
	if (rv->schemaname)
		appendStringInfo(buf, "%s.", quote_identifier(rv->schemaname));
	appendStringInfoString(buf, quote_identifier(rv->relname));
}

/* a qualified name given as a list of String nodes (functions) */
static void
add_namelist(StringInfo buf, List *names)
{
	ListCell   *lc;
	const char *sep = " ";

	foreach(lc, names)
	{
		Node	   *n = (Node *) lfirst(lc);

		if (!IsA(n, String))
			break;
		appendStringInfo(buf, "%s%s", sep, quote_identifier(strVal(n)));
		sep = ".";
	}
}

static void
add_rolespec(StringInfo buf, RoleSpec *r)
{
	if (r == NULL)
		return;
	switch (r->roletype)
	{
		case ROLESPEC_CSTRING:
			add_name(buf, r->rolename);
			break;
		case ROLESPEC_CURRENT_USER:
			appendStringInfoString(buf, " CURRENT_USER");
			break;
		case ROLESPEC_SESSION_USER:
			appendStringInfoString(buf, " SESSION_USER");
			break;
		case ROLESPEC_PUBLIC:
			appendStringInfoString(buf, " PUBLIC");
			break;
		default:
			appendStringInfoString(buf, " CURRENT_ROLE");
			break;
	}
}

static void
add_rangevars(StringInfo buf, List *rels)
{
	ListCell   *lc;

	foreach(lc, rels)
	{
		Node	   *n = (Node *) lfirst(lc);

		if (IsA(n, RangeVar))
			add_rangevar(buf, (RangeVar *) n);
		else if (IsA(n, VacuumRelation))
			add_rangevar(buf, ((VacuumRelation *) n)->relation);
	}
}

/*
 * The object of COMMENT, SECURITY LABEL or DROP, as the grammar gives it:
 * a name (schema, database), a qualified name (table, column), a function
 * or operator with its arguments, a type, or a list of those (a cast's two
 * types).  Names only: the comment or label itself is a separate field
 * that is never read here.
 */
static void
add_object(StringInfo buf, Node *obj)
{
	ListCell   *lc;

	if (obj == NULL)
		return;
	if (IsA(obj, String))
		add_name(buf, strVal(obj));
	else if (IsA(obj, ObjectWithArgs))
		add_namelist(buf, ((ObjectWithArgs *) obj)->objname);
	else if (IsA(obj, TypeName))
		add_namelist(buf, ((TypeName *) obj)->names);
	else if (IsA(obj, List) && list_length((List *) obj) > 0 &&
			 IsA(linitial((List *) obj), String))
		add_namelist(buf, (List *) obj);
	else if (IsA(obj, List))
		foreach(lc, (List *) obj)
			add_object(buf, (Node *) lfirst(lc));
}

/*
 * Where a utility statement keeps the names of the objects it acts on,
 * for the statements whose names are one field: the node type, what the
 * field holds and where it is.  Statements with more than one name, or
 * names under another node, are in utility_names() itself.
 */
typedef enum NameField
{
	NF_NAME,					/* char *: an identifier */
	NF_SETTING,					/* char *: a setting's name */
	NF_RANGEVAR,				/* RangeVar * */
	NF_RANGEVARS,				/* List * of RangeVar */
	NF_NAMELIST,				/* List * of String: a qualified name */
	NF_ROLESPEC,				/* RoleSpec * */
	NF_OBJECT					/* Node *: COMMENT/SECURITY LABEL target */
} NameField;

typedef struct UtilityNameField
{
	NodeTag		tag;
	NameField	kind;
	size_t		offset;
} UtilityNameField;

#define NAME_FIELD(type, kind, field) {T_##type, kind, offsetof(type, field)}

static const UtilityNameField name_fields[] = {
	NAME_FIELD(CopyStmt, NF_RANGEVAR, relation),
	NAME_FIELD(CreateSubscriptionStmt, NF_NAME, subname),
	NAME_FIELD(AlterSubscriptionStmt, NF_NAME, subname),
	NAME_FIELD(DropSubscriptionStmt, NF_NAME, subname),
	NAME_FIELD(VariableSetStmt, NF_SETTING, name),
	NAME_FIELD(CreateRoleStmt, NF_NAME, role),
	NAME_FIELD(AlterRoleStmt, NF_ROLESPEC, role),
	NAME_FIELD(AlterRoleSetStmt, NF_ROLESPEC, role),
	NAME_FIELD(CreateForeignServerStmt, NF_NAME, servername),
	NAME_FIELD(AlterForeignServerStmt, NF_NAME, servername),
	NAME_FIELD(CreateStmt, NF_RANGEVAR, relation),
	NAME_FIELD(ViewStmt, NF_RANGEVAR, view),
	NAME_FIELD(AlterTableStmt, NF_RANGEVAR, relation),
	NAME_FIELD(TruncateStmt, NF_RANGEVARS, relations),
	NAME_FIELD(VacuumStmt, NF_RANGEVARS, rels),
	NAME_FIELD(LockStmt, NF_RANGEVARS, relations),
	NAME_FIELD(RefreshMatViewStmt, NF_RANGEVAR, relation),
	NAME_FIELD(ClusterStmt, NF_RANGEVAR, relation),
	NAME_FIELD(PrepareStmt, NF_NAME, name),
	NAME_FIELD(ExecuteStmt, NF_NAME, name),
	NAME_FIELD(DeallocateStmt, NF_NAME, name),
	NAME_FIELD(DeclareCursorStmt, NF_NAME, portalname),
	NAME_FIELD(FetchStmt, NF_NAME, portalname),
	NAME_FIELD(ClosePortalStmt, NF_NAME, portalname),
	NAME_FIELD(ListenStmt, NF_NAME, conditionname),
	NAME_FIELD(UnlistenStmt, NF_NAME, conditionname),
	NAME_FIELD(NotifyStmt, NF_NAME, conditionname),
	NAME_FIELD(CreateFunctionStmt, NF_NAMELIST, funcname),
	NAME_FIELD(CreateSchemaStmt, NF_NAME, schemaname),
	NAME_FIELD(CreatedbStmt, NF_NAME, dbname),
	NAME_FIELD(DropdbStmt, NF_NAME, dbname),
	NAME_FIELD(CreatePublicationStmt, NF_NAME, pubname),
	NAME_FIELD(CreateExtensionStmt, NF_NAME, extname),
	NAME_FIELD(CommentStmt, NF_OBJECT, object),
	NAME_FIELD(SecLabelStmt, NF_OBJECT, object),
};

/* The name a field of "stmt" holds, as "kind" says. */
static void
add_field(StringInfo buf, Node *stmt, NameField kind, size_t offset)
{
	void	   *field = *(void **) ((char *) stmt + offset);

	switch (kind)
	{
		case NF_NAME:
			add_name(buf, (const char *) field);
			break;
		case NF_SETTING:
			add_setting(buf, (const char *) field);
			break;
		case NF_RANGEVAR:
			add_rangevar(buf, (RangeVar *) field);
			break;
		case NF_RANGEVARS:
			add_rangevars(buf, (List *) field);
			break;
		case NF_NAMELIST:
			add_namelist(buf, (List *) field);
			break;
		case NF_ROLESPEC:
			add_rolespec(buf, (RoleSpec *) field);
			break;
		case NF_OBJECT:
			add_object(buf, (Node *) field);
			break;
	}
}

/* " FOR role SERVER name" of the three user-mapping statements */
static void
add_user_mapping(StringInfo buf, RoleSpec *user, const char *server)
{
	appendStringInfoString(buf, " FOR");
	add_rolespec(buf, user);
	appendStringInfoString(buf, " SERVER");
	add_name(buf, server);
}

/*
 * The names of the objects a utility statement acts on: identifiers only,
 * never an option value, a string or an expression.  Statements not
 * listed keep their tag alone.
 */
static void
utility_names(StringInfo buf, Node *stmt)
{
	ListCell   *lc;
	int			i;

	for (i = 0; i < (int) lengthof(name_fields); i++)
		if (name_fields[i].tag == nodeTag(stmt))
		{
			add_field(buf, stmt, name_fields[i].kind, name_fields[i].offset);
			return;
		}

	switch (nodeTag(stmt))
	{
		case T_CallStmt:
			if (((CallStmt *) stmt)->funccall)
				add_namelist(buf, ((CallStmt *) stmt)->funccall->funcname);
			break;
		case T_AlterSystemStmt:
			add_setting(buf, ((AlterSystemStmt *) stmt)->setstmt->name);
			break;
		case T_CreateUserMappingStmt:
			add_user_mapping(buf, ((CreateUserMappingStmt *) stmt)->user,
							 ((CreateUserMappingStmt *) stmt)->servername);
			break;
		case T_AlterUserMappingStmt:
			add_user_mapping(buf, ((AlterUserMappingStmt *) stmt)->user,
							 ((AlterUserMappingStmt *) stmt)->servername);
			break;
		case T_DropUserMappingStmt:
			add_user_mapping(buf, ((DropUserMappingStmt *) stmt)->user,
							 ((DropUserMappingStmt *) stmt)->servername);
			break;
		case T_CreateTableAsStmt:
			if (((CreateTableAsStmt *) stmt)->into)
				add_rangevar(buf, ((CreateTableAsStmt *) stmt)->into->rel);
			break;
		case T_SelectStmt:		/* SELECT INTO */
			if (((SelectStmt *) stmt)->intoClause)
				add_rangevar(buf, ((SelectStmt *) stmt)->intoClause->rel);
			break;
		case T_IndexStmt:
			add_name(buf, ((IndexStmt *) stmt)->idxname);
			appendStringInfoString(buf, " ON");
			add_rangevar(buf, ((IndexStmt *) stmt)->relation);
			break;
		case T_DropStmt:
			{
				const char *sep = "";

				foreach(lc, ((DropStmt *) stmt)->objects)
				{
					appendStringInfoString(buf, sep);
					add_object(buf, (Node *) lfirst(lc));
					sep = ",";
				}
			}
			break;
		default:
			break;
	}
}

/* "<FIRST-WORD statement>" for a text that could not be checked */
static char *
unchecked_text(const char *query)
{
	const char *p = query;
	int			n = 0;
	char		word[32];

	/* skip white space, comments and opening parentheses */
	for (;;)
	{
		while (*p && (isspace((unsigned char) *p) || *p == '('))
			p++;
		if (p[0] == '-' && p[1] == '-')
		{
			while (*p && *p != '\n')
				p++;
		}
		else if (p[0] == '/' && p[1] == '*')
		{
			const char *end = strstr(p + 2, "*/");

			p = end ? end + 2 : p + strlen(p);
		}
		else
			break;
	}
	while (n < (int) sizeof(word) - 1 && isalpha((unsigned char) p[n]))
	{
		word[n] = pg_ascii_toupper((unsigned char) p[n]);
		n++;
	}
	word[n] = '\0';
	if (n == 0 || isalnum((unsigned char) p[n]))
		return pstrdup("<unrecognized statement>");
	return psprintf("<%s statement>", word);
}

/*
 * Classify a parsed text: the whole text when it may be stored, else the
 * command tag and names.  Runs in a subtransaction: the grammar and the
 * tree walker raise errors on what they do not know.
 */
static char *
classify(const char *query, bool *reduced)
{
	char	   *replaced = placeholders_to_constants(query);
	List	   *parsed;
	RawStmt    *raw;
	StringInfoData buf;

	parsed = raw_parser(replaced, RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1)
		return NULL;
	raw = linitial_node(RawStmt, parsed);
	if (is_optimizable(raw->stmt))
	{
		LiteralSearch ls = {query, false};

		(void) find_literal(raw->stmt, &ls);
		if (!ls.found)
		{
			*reduced = false;
			return pstrdup(query);
		}
		*reduced = true;
		return pstrdup(CreateCommandName(raw->stmt));
	}
	initStringInfo(&buf);
	/* the raw grammar's SELECT INTO is tagged SELECT until analysis */
	if (IsA(raw->stmt, SelectStmt))
		appendStringInfoString(&buf, "SELECT INTO");
	else
		appendStringInfoString(&buf, CreateCommandName(raw->stmt));
	utility_names(&buf, raw->stmt);
	*reduced = true;
	return buf.data;
}

/* what classify_guarded() is given and gives back */
typedef struct ClassifyCall
{
	const char *query;
	MemoryContext caller;
	MemoryContext work;
	char	   *result;			/* in the caller's context, or NULL */
	bool		reduced;
} ClassifyCall;

/*
 * classify() in a context of its own (the parse trees are thrown away),
 * the result copied into the caller's.
 */
static void
classify_guarded(void *arg)
{
	ClassifyCall *call = (ClassifyCall *) arg;
	bool		r = true;
	char	   *text;

	MemoryContextSwitchTo(call->work);
	text = classify(call->query, &r);
	MemoryContextSwitchTo(call->caller);
	if (text != NULL)
	{
		call->result = pstrdup(text);
		call->reduced = r;
	}
}

/*
 * The text nadia_bgw may store for "query", cut to "maxlen" bytes (on a
 * character boundary; 0 = no limit).  *reduced tells whether it is less
 * than the text given.  The result is palloc'd in the caller's context.
 */
char *
nadia_safe_statement_text(const char *query, int maxlen, bool *reduced)
{
	ClassifyCall call;
	char	   *result;

	if (query == NULL)
	{
		*reduced = false;
		return NULL;
	}

	call.query = query;
	call.caller = CurrentMemoryContext;
	call.work = AllocSetContextCreate(call.caller, "nadia_bgw statement text",
									  ALLOCSET_SMALL_SIZES);
	call.result = NULL;
	call.reduced = true;
	/* a text the grammar rejects: checked by nobody, so not stored */
	if (!nadia_guarded_call("statement text", NULL, classify_guarded, &call,
							NADIA_GUARD_QUIET, NULL))
		call.result = NULL;
	MemoryContextDelete(call.work);

	result = call.result;
	if (result == NULL)
	{
		result = unchecked_text(query);
		call.reduced = true;
	}
	if (maxlen > 0 && strlen(result) > (size_t) maxlen)
		result[pg_mbcliplen(result, strlen(result), maxlen)] = '\0';
	*reduced = call.reduced;
	return result;
}

/*
 * nadia_bgw._safe_statement_text(query) -- the same, for the update script
 * that rewrites the texts stored by earlier versions.
 */
Datum
nadia_bgw_safe_statement_text(PG_FUNCTION_ARGS)
{
	bool		reduced;
	char	   *q = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_TEXT_P(cstring_to_text(nadia_safe_statement_text(q, 0, &reduced)));
}
