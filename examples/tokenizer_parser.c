/* tokenizer_parser.c: a compiler front end where a recursive-descent parser
 * pulls tokens one at a time from a tokenizer coroutine, and evaluates.
 *
 * From seeds/000 (the lecture, "协程的特点与使用场景" and "Stackful和Stackless
 * 的协程"): tokenizer and parser as producer and consumer ("语法分析器消费一个,
 * 就让词法分析器生产一个"), and a stackful coroutine suspending from a helper
 * below its body (图9): here emit() yields, called from lex_word(), called
 * from tokenize(), the body.
 * Language: `NAME = expr;` and `print expr;` with integers, + - * / %, unary
 * minus, parentheses and # comments. Usage: tokenizer_parser [FILE]. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corun.h"

enum kind { T_NUM, T_NAME, T_PRINT, T_PUNCT, T_END, T_BAD };
struct token {
  enum kind kind;
  int line;
  char text[32]; /* as written; "end of file" for T_END */
};

/* ---- the tokenizer (a coroutine: runs on its own stack) ---- */

struct lexer {
  FILE *in;
  int line;
  struct token tok; /* the token handed out, on this coroutine's stack */
};

/* Hands one token to the parser. Returns 1 if corun_destroy() is closing
 * the tokenizer (the parser stopped early): the callers then unwind. */
static int emit(struct lexer *lx, enum kind kind) {
  lx->tok.kind = kind;
  lx->tok.line = lx->line;
  corun_yield(&lx->tok);
  return corun_closing();
}

static int lex_word(struct lexer *lx, int c) { /* a number or a name */
  enum kind kind = isdigit(c) ? T_NUM : T_NAME;
  size_t n = 0;
  for (; kind == T_NUM ? isdigit(c) : isalnum(c) || c == '_'; c = getc(lx->in))
    if (n < sizeof lx->tok.text - 1)
      lx->tok.text[n++] = (char)c;
  ungetc(c, lx->in);
  lx->tok.text[n] = '\0';
  if (kind == T_NAME && strcmp(lx->tok.text, "print") == 0)
    kind = T_PRINT;
  return emit(lx, kind);
}

static void *tokenize(void *file) {
  struct lexer lx = {.in = file, .line = 1};
  int c, stop = 0;
  while (!stop && (c = getc(lx.in)) != EOF) {
    if (c == '#')
      while ((c = getc(lx.in)) != EOF && c != '\n')
        continue;
    if (c == '\n')
      lx.line++;
    if (c == EOF || isspace(c))
      continue;
    if (isalnum(c) || c == '_') {
      stop = lex_word(&lx, c);
    } else {
      lx.tok.text[0] = (char)c, lx.tok.text[1] = '\0';
      stop = emit(&lx, c && strchr("+-*/%()=;", c) ? T_PUNCT : T_BAD);
    }
  }
  if (!stop) {
    strcpy(lx.tok.text, "end of file");
    emit(&lx, T_END); /* the parser never asks for more after this one */
  }
  return NULL;
}

/* ---- the parser (on the main stack) ---- */

static corun_coro *lexer;
static struct token tok; /* the current token */
static const char *path;
static FILE *input;
static struct { char name[32]; long value; } vars[64];
static int n_vars, n_tokens;

_Noreturn static void quit(int rc) { /* closes the tokenizer, exits */
  int err = corun_destroy(lexer);
  fclose(input);
  if (err < 0)
    fprintf(stderr, "tokenizer_parser: destroy: %s\n", corun_strerror(err));
  exit(err < 0 ? 1 : rc);
}

_Noreturn static void fail(int line, const char *msg, const char *at) {
  fprintf(stderr, "%s:%d: error: %s '%s'\n", path, line, msg, at);
  quit(1);
}

static void advance(void) { /* consume one: the tokenizer makes the next */
  void *out;
  int rc = corun_resume(lexer, NULL, &out);
  if (rc <= 0) {
    fprintf(stderr, "tokenizer_parser: next token: %s\n",
            rc < 0 ? corun_strerror(rc) : "the tokenizer ended");
    quit(1);
  }
  tok = *(const struct token *)out;
  n_tokens++;
}

static int punct(void) { return tok.kind == T_PUNCT ? tok.text[0] : 0; }

static void expect(char c) {
  char msg[] = "expected '?' before";
  msg[10] = c;
  if (punct() != c)
    fail(tok.line, msg, tok.text);
  advance();
}

static long *var(const struct token *t, int create) {
  int i = 0;
  while (i < n_vars && strcmp(vars[i].name, t->text) != 0)
    i++;
  if (i == n_vars && !create)
    fail(t->line, "undefined variable", t->text);
  if (i == (int)(sizeof vars / sizeof vars[0]))
    fail(t->line, "too many variables at", t->text);
  if (i == n_vars)
    strcpy(vars[n_vars++].name, t->text);
  return &vars[i].value;
}

static long expr(void);

static long unary(void) { /* '-' unary | NUM | NAME | '(' expr ')' */
  struct token t = tok;
  if (t.kind != T_NUM && t.kind != T_NAME && punct() != '-' && punct() != '(')
    fail(t.line, "expected a value before", t.text);
  advance();
  if (t.kind != T_PUNCT)
    return t.kind == T_NUM ? strtol(t.text, NULL, 10) : *var(&t, 0);
  if (t.text[0] == '-')
    return -unary();
  long v = expr();
  expect(')');
  return v;
}

static long term(void) { /* unary (('*' | '/' | '%') unary)* */
  long v = unary();
  for (int op; (op = punct()) == '*' || op == '/' || op == '%';) {
    struct token t = tok;
    advance();
    long r = unary();
    if (op != '*' && r == 0)
      fail(t.line, "division by zero at", t.text);
    v = op == '*' ? v * r : op == '/' ? v / r : v % r;
  }
  return v;
}

static long expr(void) { /* term (('+' | '-') term)* */
  long v = term();
  for (int op; (op = punct()) == '+' || op == '-';) {
    advance();
    v = op == '+' ? v + term() : v - term();
  }
  return v;
}

static void statement(void) { /* NAME '=' expr ';' | 'print' expr ';' */
  struct token t = tok;
  if (t.kind != T_NAME && t.kind != T_PRINT)
    fail(t.line, "expected a statement before", t.text);
  advance();
  if (t.kind == T_NAME)
    expect('=');
  long v = expr();
  expect(';');
  if (t.kind == T_NAME)
    *var(&t, 1) = v;
  else
    printf("%ld\n", v);
}

#ifndef CALC_DEFAULT_INPUT /* CMake passes examples/program.calc */
#define CALC_DEFAULT_INPUT "program.calc"
#endif

int main(int argc, char **argv) {
  path = argc > 1 ? argv[1] : CALC_DEFAULT_INPUT;
  input = fopen(path, "r");
  if (!input) {
    perror(path);
    return 1;
  }
  int rc = corun_create(&lexer, tokenize, input, NULL);
  if (rc < 0) {
    fprintf(stderr, "tokenizer_parser: create: %s\n", corun_strerror(rc));
    return 1;
  }
  int n = 0;
  for (advance(); tok.kind != T_END; n++)
    statement();
  printf("%d statements, %d tokens made one at a time\n", n, n_tokens);
  quit(0);
}
