/**
 * Every answer a test gateway sends, checked against the OpenAPI document (contract §9): the
 * status must be documented for the route and method, the headers that matter must be the
 * documented ones (required ones present, values per their schema, no undocumented one), and the
 * body must match the documented schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses it).
 * A method a path does not list must be a 405 whose Allow names exactly the documented methods;
 * a path the document does not list must be the 404 envelope.
 *
 * buildTestGateway wraps its app with `observeAnswers`; test/setup/openapi-answers.ts fails
 * the test in whose course an undocumented answer was sent.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { BEFORE_METHOD, buildOpenApiDocument, OTHER_METHODS, OTHER_PATHS } from '../../src/http/openapi';

type Json = Record<string, any>;

export interface ObservedAnswer {
  method: string;
  /** The request target as sent (a query is ignored). */
  url: string;
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

/** Headers whose presence and value the document must describe wherever they are sent. */
const HEADERS_THAT_MATTER = /^(www-authenticate|retry-after|allow|cache-control|x-request-id|etag|dpop-nonce|x-auth-[a-z-]+)$/;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

export class AnswerChecker {
  private readonly ajv: Ajv2020;
  private readonly paths: Array<{ template: string; pattern: RegExp; item: Json }>;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: Json = buildOpenApiDocument()) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(document, 'openapi.json');
    this.paths = Object.entries(document.paths as Record<string, Json>)
      .map(([template, item]) => ({
        template,
        // Express matches paths case-insensitively and with an optional trailing slash.
        pattern: new RegExp(
          `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}/?$`,
          'i',
        ),
        item,
      }))
      // Literal paths before templated ones.
      .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  /**
   * Compiles every validator up front, so that no check stalls a timed test by compiling a
   * schema in the middle of it.
   */
  warmUp(): this {
    const responsePointers: string[] = ['#/' + OTHER_PATHS];
    for (const { template, item } of this.paths) {
      const base = `#/paths/${escapePointer(template)}`;
      responsePointers.push(`${base}/${OTHER_METHODS}`);
      for (const method of METHODS.filter((m) => item[m])) {
        for (const status of Object.keys(item[method].responses ?? {})) responsePointers.push(`${base}/${method}/responses/${status}`);
      }
    }
    for (const pointer of responsePointers) {
      const { at, object } = this.resolve(pointer);
      for (const name of Object.keys(object.headers ?? {})) {
        const schema = this.resolve(`${at}/headers/${escapePointer(name)}`).object.schema as Json;
        this.compile(`header:${JSON.stringify(schema)}`, schema);
      }
      if (object.content?.['application/json']) {
        const mediaPointer = `${at}/content/application~1json/schema`;
        this.compile(mediaPointer, { $ref: `openapi.json${mediaPointer}` });
      }
    }
    return this;
  }

  /** What is wrong with this answer, by the document; empty when it is described. */
  problems(answer: ObservedAnswer): string[] {
    const path = answer.url.split('?')[0]!;
    const method = answer.method.toLowerCase();
    const where = `${answer.method} ${path} → ${answer.status}`;
    const found = this.paths.find((p) => p.pattern.test(path));
    if (!found) {
      if (answer.status !== 404) return [`${where}: the path is not documented, so the answer must be 404`];
      return this.checkResponse(where, answer, `#/${OTHER_PATHS}`);
    }
    const documented = METHODS.filter((m) => found.item[m] !== undefined);
    let operation = found.item[method] as Json | undefined;
    if (!operation && method === 'head') operation = found.item.get;
    if (!operation) {
      // A check made before the method is looked at answers as the path's operations document it.
      const before = (found.item[BEFORE_METHOD] ?? []) as number[];
      const documenting = documented.find((m) => found.item[m].responses?.[String(answer.status)]);
      if (before.includes(answer.status) && documenting) {
        const pointer = `#/paths/${escapePointer(found.template)}/${documenting}/responses/${answer.status}`;
        return this.checkResponse(where, answer, pointer);
      }
      if (answer.status !== 405) return [`${where}: ${answer.method} is not documented for ${found.template}, so the answer must be 405`];
      const problems = this.checkResponse(where, answer, `#/paths/${escapePointer(found.template)}/${OTHER_METHODS}`);
      const allowed = new Set(documented.map((m) => m.toUpperCase()));
      if (allowed.has('GET')) allowed.add('HEAD');
      const allow = new Set(String(answer.headers.allow ?? '').split(/,\s*/).filter(Boolean));
      if ([...allowed].sort().join() !== [...allow].sort().join()) {
        problems.push(`${where}: Allow is "${answer.headers.allow}", the document lists ${[...allowed].sort().join(', ')}`);
      }
      return problems;
    }
    const response = operation.responses?.[String(answer.status)] as Json | undefined;
    if (!response) return [`${where}: status ${answer.status} is not documented for ${answer.method.toUpperCase()} ${found.template}`];
    const pointer = `#/paths/${escapePointer(found.template)}/${found.item[method] ? method : 'get'}/responses/${answer.status}`;
    return this.checkResponse(where, answer, pointer);
  }

  /** The object at `pointer`, following $refs; and where it finally is. */
  private resolve(pointer: string): { at: string; object: Json } {
    let at = pointer;
    for (let hops = 0; hops < 10; hops += 1) {
      const object = at
        .replace(/^#\//, '')
        .split('/')
        .map(unescapePointer)
        .reduce((node: Json | undefined, key: string) => node?.[key], this.document);
      if (object === undefined) throw new Error(`unresolvable ${at}`);
      if (typeof object.$ref !== 'string') return { at, object };
      at = object.$ref;
    }
    throw new Error(`too many $ref hops from ${pointer}`);
  }

  private checkResponse(where: string, answer: ObservedAnswer, responsePointer: string): string[] {
    const { at: pointer, object: response } = this.resolve(responsePointer);
    const problems: string[] = [];
    const documented = new Map<string, Json>();
    for (const name of Object.keys((response.headers ?? {}) as Json)) {
      documented.set(name.toLowerCase(), this.resolve(`${pointer}/headers/${escapePointer(name)}`).object);
    }
    for (const [name, header] of documented) {
      const value = answer.headers[name];
      if (value === undefined) {
        if (header.required) problems.push(`${where}: the documented header ${name} is missing`);
        continue;
      }
      const text = Array.isArray(value) ? value.join(', ') : String(value);
      const schema = header.schema as Json;
      const candidate = schema.type === 'integer' && /^\d+$/.test(text) ? Number(text) : text;
      const validate = this.compile(`header:${JSON.stringify(schema)}`, schema);
      if (!validate(candidate)) problems.push(`${where}: header ${name}: "${text}" does not match ${JSON.stringify(schema)}`);
    }
    for (const name of Object.keys(answer.headers)) {
      const lower = name.toLowerCase();
      if (HEADERS_THAT_MATTER.test(lower) && !documented.has(lower)) {
        problems.push(`${where}: header ${lower} is sent but not documented`);
      }
    }
    const content = response.content as Json | undefined;
    if (answer.method.toUpperCase() === 'HEAD') return problems;
    if (!content) {
      if (answer.body.length > 0) problems.push(`${where}: a body is sent where the document has none`);
      return problems;
    }
    const type = String(answer.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const media = content[type] as Json | undefined;
    if (!media) {
      problems.push(`${where}: content type "${type}" is not documented (${Object.keys(content).join(', ')})`);
      return problems;
    }
    if (type !== 'application/json') return problems;
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString('utf8'));
    } catch {
      problems.push(`${where}: the body is not JSON`);
      return problems;
    }
    const mediaPointer = `${pointer}/content/${escapePointer(type)}/schema`;
    const validate = this.compile(mediaPointer, { $ref: `openapi.json${mediaPointer}` });
    if (!validate(body)) {
      const errors = (validate.errors ?? [])
        .slice(0, 5)
        .map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
      problems.push(`${where}: the body does not match the document: ${errors.join('; ')}; body: ${answer.body.toString('utf8').slice(0, 300)}`);
    }
    return problems;
  }

  private compile(key: string, schema: Json): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.validators.set(key, validate);
    }
    return validate;
  }
}

const escapePointer = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapePointer = (segment: string): string => segment.replace(/~1/g, '/').replace(/~0/g, '~');

let sharedChecker: AnswerChecker | undefined;
const pending: string[] = [];

/** The problems found since the last call (the setup file fails the test that has any). */
export function takeAnswerProblems(): string[] {
  return pending.splice(0, pending.length);
}

/** Records what `res` sends, and checks it once it has been sent in full. */
export function observeResponse(
  req: IncomingMessage,
  res: ServerResponse,
  onAnswer: (answer: ObservedAnswer) => void,
): void {
  const chunks: Buffer[] = [];
  const keep = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    keep(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    keep(chunk, rest[0]);
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  // Only answers sent in full: a destroyed connection has no answer to check.
  res.on('finish', () => {
    onAnswer({ method, url, status: res.statusCode, headers: res.getHeaders(), body: Buffer.concat(chunks) });
  });
}

/**
 * The app, with every answer it sends checked against the document (problems collected for
 * takeAnswerProblems). Everything else (listen, settings) is the app's own.
 */
export function observeAnswers<App extends (req: IncomingMessage, res: ServerResponse, ...rest: any[]) => unknown>(
  app: App,
  onProblems: (problems: string[]) => void = (problems) => pending.push(...problems),
): App {
  // Built (once a test file) before the app answers anything.
  const checker = (sharedChecker ??= new AnswerChecker().warmUp());
  return new Proxy(app, {
    apply(target, thisArg, args: [IncomingMessage, ServerResponse, ...unknown[]]) {
      observeResponse(args[0], args[1], (answer) => {
        const problems = checker.problems(answer);
        if (problems.length > 0) onProblems(problems);
      });
      return Reflect.apply(target, thisArg, args);
    },
  });
}
