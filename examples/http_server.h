/* http_server.h: what http_server.c offers besides its main(): the
 * connection handler that tests/http/parse.c drives over a socketpair
 * (built with -DCORUN_EXAMPLE_NO_MAIN, which leaves main() out). */
#ifndef CORUN_EXAMPLES_HTTP_SERVER_H
#define CORUN_EXAMPLES_HTTP_SERVER_H

/* Serves "Hello, World!" on the connected socket fd until the connection
 * ends, then closes fd (an http_conn_session_fn; ctx is unused).
 * Context: a task. */
void http_server_session(int fd, void *ctx);

#endif
