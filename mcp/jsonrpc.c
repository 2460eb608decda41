/*-------------------------------------------------------------------------
 *
 * jsonrpc.c
 *		JSON-RPC 2.0 framing of nadia-mcp: one input line becomes at most one
 *		output line.
 *
 * This file owns everything between the raw bytes a client wrote and the
 * MCP method handlers of protocol.c: size and encoding checks, parsing,
 * the shape of requests, notifications and batches, and the error codes
 * of the JSON-RPC specification:
 *
 *	-32700	the line is not JSON (or not UTF-8)
 *	-32600	JSON, but not a valid request (wrong jsonrpc, id or method type,
 *			too large, empty batch, batch where the protocol has none)
 *	-32601	no such method
 *	-32602	the method exists but its params are wrong
 *
 * Every path returns an answer and leaves the server able to read the next
 * line; nothing the client sends can end the process.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "nadia_mcp.h"
#include "protocol.h"
#include "text.h"

/* An id worth echoing: a string or a number (JSON-RPC), never null (MCP). */
static bool
id_valid(const cJSON *id)
{
	return id != NULL && (cJSON_IsString(id) || cJSON_IsNumber(id));
}

static cJSON *
envelope(const cJSON *id)
{
	cJSON	   *msg = cJSON_CreateObject();

	cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
	if (id_valid(id))
		cJSON_AddItemToObject(msg, "id", cJSON_Duplicate(id, false));
	else
		cJSON_AddNullToObject(msg, "id");
	return msg;
}

static cJSON *
error_object(const cJSON *id, int code, const char *message)
{
	cJSON	   *msg = envelope(id);
	cJSON	   *err = cJSON_AddObjectToObject(msg, "error");

	cJSON_AddNumberToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", message);
	return msg;
}

static char *
print_and_free(cJSON *msg)
{
	char	   *out = cJSON_PrintUnformatted(msg);

	cJSON_Delete(msg);
	return out;
}

/* A complete error line; main.c uses it for lines it refuses to read. */
char *
rpc_error_line(const cJSON *id, int code, const char *message)
{
	return print_and_free(error_object(id, code, message));
}

/*
 * One message of a line (or one element of a batch).  Returns the answer,
 * or NULL for notifications and for responses sent by the client (we never
 * send requests, so those have nothing to answer).
 */
static cJSON *
handle_one(McpServer *srv, const cJSON *msg)
{
	const cJSON *id;
	const cJSON *version;
	const cJSON *method;
	const cJSON *params;
	bool		has_id;
	cJSON	   *result;
	cJSON	   *answer;
	int			code = 0;
	char	   *message = NULL;

	if (!cJSON_IsObject(msg))
		return error_object(NULL, RPC_INVALID_REQUEST,
							"invalid request: a message must be a JSON object");

	id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	has_id = (id != NULL);
	if (has_id && !id_valid(id))
		return error_object(NULL, RPC_INVALID_REQUEST,
							"invalid request: \"id\" must be a string or a number");

	version = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
	if (!cJSON_IsString(version) || strcmp(version->valuestring, "2.0") != 0)
		return error_object(id, RPC_INVALID_REQUEST,
							"invalid request: \"jsonrpc\" must be \"2.0\"");

	method = cJSON_GetObjectItemCaseSensitive(msg, "method");
	if (method == NULL)
	{
		/* a response to a request of ours: we send none, so drop it */
		if (has_id && (cJSON_HasObjectItem(msg, "result") ||
					   cJSON_HasObjectItem(msg, "error")))
			return NULL;
		return error_object(id, RPC_INVALID_REQUEST,
							"invalid request: \"method\" is missing");
	}
	if (!cJSON_IsString(method))
		return error_object(id, RPC_INVALID_REQUEST,
							"invalid request: \"method\" must be a string");

	params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	if (params != NULL && !cJSON_IsObject(params))
	{
		if (!has_id)
			return NULL;		/* a notification is never answered */
		return error_object(id, RPC_INVALID_PARAMS,
							"invalid params: \"params\" must be an object");
	}

	result = protocol_dispatch(srv, method->valuestring, params, !has_id,
							   &code, &message);
	if (!has_id)
	{
		cJSON_Delete(result);
		free(message);
		return NULL;
	}
	if (code != 0)
	{
		answer = error_object(id, code, message ? message : "error");
		free(message);
		cJSON_Delete(result);
		return answer;
	}
	answer = envelope(id);
	cJSON_AddItemToObject(answer, "result",
						  result ? result : cJSON_CreateObject());
	return answer;
}

/*
 * The entry point of the message handler (and of the fuzzer): buf holds
 * one line without its newline.  Returns a malloc'd line to write, or NULL.
 */
char *
mcp_handle_message(McpServer *srv, const char *buf, size_t len)
{
	char	   *copy;
	cJSON	   *root;
	const char *end = NULL;
	cJSON	   *answer;

	if (len > srv->limits.max_message_bytes)
		return rpc_error_line(NULL, RPC_INVALID_REQUEST,
							  "invalid request: message too large");
	if (!utf8_valid((const unsigned char *) buf, len))
		return rpc_error_line(NULL, RPC_PARSE_ERROR,
							  "parse error: the message is not valid UTF-8 text");

	/* cJSON wants a terminated string; a copy also keeps buf untouched */
	copy = malloc(len + 1);
	if (copy == NULL)
		return rpc_error_line(NULL, RPC_INTERNAL_ERROR, "out of memory");
	memcpy(copy, buf, len);
	copy[len] = '\0';

	root = cJSON_ParseWithOpts(copy, &end, false);
	if (root != NULL && end != NULL)
	{
		/* anything but whitespace after the value is an error */
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end != '\0')
		{
			cJSON_Delete(root);
			root = NULL;
		}
	}
	free(copy);
	if (root == NULL)
	{
		/* an empty line is not a message; say nothing */
		bool		blank = true;

		for (size_t i = 0; i < len && blank; i++)
			blank = (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r');
		if (blank)
			return NULL;
		return rpc_error_line(NULL, RPC_PARSE_ERROR,
							  "parse error: the message is not valid JSON");
	}

	if (cJSON_IsArray(root))
	{
		int			n = cJSON_GetArraySize(root);
		cJSON	   *item;

		if (!protocol_allows_batches(srv))
			answer = error_object(NULL, RPC_INVALID_REQUEST,
								  "invalid request: JSON-RPC batches are not supported by the negotiated protocol version");
		else if (n == 0)
			answer = error_object(NULL, RPC_INVALID_REQUEST,
								  "invalid request: empty batch");
		else
		{
			answer = cJSON_CreateArray();
			cJSON_ArrayForEach(item, root)
			{
				cJSON	   *one = handle_one(srv, item);

				if (one != NULL)
					cJSON_AddItemToArray(answer, one);
			}
			if (cJSON_GetArraySize(answer) == 0)
			{
				cJSON_Delete(answer);
				answer = NULL;	/* a batch of notifications */
			}
		}
	}
	else
		answer = handle_one(srv, root);

	cJSON_Delete(root);
	return answer ? print_and_free(answer) : NULL;
}
