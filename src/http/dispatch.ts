/**
 * How a request reaches its route's handlers. Express's router walks its layers one by one,
 * matching each path pattern in turn, and passes through each handler of a route as a layer of
 * its own; for a check, which does little else, that walk was a tenth of its time
 * (docs/BENCHMARKS.md). Here a route's handlers are one function (`chainOf`), and the routes
 * whose path has no parameter are found by one map lookup (`StaticRoutes`). Routes with
 * parameters, and every route while tracing names spans by express's layers, are registered
 * with express as before: same chains, same order, same answers.
 *
 * The token checks go one step further and never reach express (`serveBeforeExpress`): express
 * starts every request by giving the request and the answer its own prototypes, after which V8
 * no longer finds node:http's objects in the shapes its code was optimised for; that swap alone
 * cost an Express hello more than node:http's own work (docs/BENCHMARKS.md). The checks' layers
 * take node:http's objects (src/http/exchange.ts), so they run the same on either path.
 */
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { notFound } from '../errors';
import { pathnameOf, type ErrorMiddleware, type GatewayRequest, type GatewayResponse, type Middleware, type Next } from './exchange';

/** Any method the route does not name: its 405 (or the route's `ALL` handler, when it has one). */
export type MountMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS' | 'ALL' | 'OTHER';

/** Where routes are registered: express's router, or the static map in front of it. */
export interface RouteMount {
  on(method: MountMethod, path: string, handler: RequestHandler): void;
}

type Step<Req, Res> = (req: Req, res: Res, next: Next) => unknown;

/**
 * The handlers run in order, each calling `next()` for the one after it, as the router runs a
 * route's handlers: an error, thrown or passed to `next` or a rejected promise, goes to the
 * app's error handlers; a `next()` from the last goes on to the app's next layer (the 404).
 */
export function chainOf<Req, Res>(handlers: ReadonlyArray<Step<Req, Res>>): Step<Req, Res> {
  if (handlers.length === 1) return handlers[0]!;
  return (req: Req, res: Res, done: Next): void => {
    let index = 0;
    const next = (error?: unknown): void => {
      if (error !== undefined && error !== null) return done(error);
      const handler = handlers[index];
      index += 1;
      if (handler === undefined) return done();
      try {
        const result: unknown = handler(req, res, next);
        if (result instanceof Promise) result.then(undefined, (reason: unknown) => done(reason ?? new Error('Rejected promise')));
      } catch (thrown) {
        done(thrown);
      }
    };
    next();
  };
}

/**
 * The error handlers run in order, as express runs its error middleware: each may answer, or
 * hand the error (or another) on; a throw is handed on too.
 */
export function errorChainOf(handlers: readonly ErrorMiddleware[]): (error: unknown, req: GatewayRequest, res: GatewayResponse) => void {
  return (first, req, res) => {
    const step = (index: number, error: unknown): void => {
      const handler = handlers[index];
      if (handler === undefined) {
        // As express's final handler, for an error no handler answered.
        if (!res.headersSent) res.statusCode = 500;
        res.end();
        return;
      }
      try {
        handler(error, req, res, (next?: unknown) => step(index + 1, next ?? error));
      } catch (thrown) {
        step(index + 1, thrown);
      }
    };
    step(0, first);
  };
}

/**
 * What express's router matches a route path against: not case-sensitive, one trailing slash
 * optional (its defaults), the path as sent (percent-escapes are not decoded for matching).
 */
export function staticPathKey(pathname: string): string {
  const lower = pathname.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/** Routes without path parameters, found by one lookup; one middleware for all of them. */
export class StaticRoutes<H = RequestHandler> {
  private readonly routes = new Map<string, Map<MountMethod, H>>();

  static accepts(path: string): boolean {
    return !/[:*?(){}]/.test(path);
  }

  add(method: MountMethod, path: string, handler: H): void {
    const key = staticPathKey(path);
    let methods = this.routes.get(key);
    if (!methods) {
      methods = new Map();
      this.routes.set(key, methods);
    }
    if (methods.has(method)) throw new Error(`${method} ${path} is registered twice`);
    methods.set(method, handler);
  }

  /** The handler of a method and path, as express's router would pick it. */
  find(method: string | undefined, pathname: string): H | undefined {
    const methods = this.routes.get(staticPathKey(pathname));
    if (methods === undefined) return undefined;
    return (
      methods.get(method as MountMethod) ??
      // As express's router: a GET route answers HEAD.
      (method === 'HEAD' ? methods.get('GET') : undefined) ??
      methods.get('ALL') ??
      methods.get('OTHER')
    );
  }

  middleware(this: StaticRoutes<RequestHandler>): RequestHandler {
    return (req: Request, res: Response, next: NextFunction): void => {
      const handler = this.find(req.method, req.path);
      if (handler === undefined) return next();
      handler(req, res, next);
    };
  }
}

/** Express's router, for what the static map does not take. */
export function expressMount(app: Express): RouteMount {
  return {
    on(method, path, handler) {
      if (method === 'ALL' || method === 'OTHER') app.all(path, handler);
      else app[method.toLowerCase() as 'get' | 'post' | 'put' | 'delete' | 'options'](path, handler);
    },
  };
}

/** Parameter-free paths into `routes`, the rest into express's router. */
export function staticFirstMount(routes: StaticRoutes, app: Express): RouteMount {
  const fallback = expressMount(app);
  return {
    on(method, path, handler) {
      if (StaticRoutes.accepts(path)) routes.add(method, path, handler);
      else fallback.on(method, path, handler);
    },
  };
}

/** What express's app does with a request (`app.handle`), which `serveBeforeExpress` goes before. */
type AppHandle = (req: GatewayRequest, res: GatewayResponse, callback?: Next) => void;

/** The app's last layer: no route took the request. */
export const noRoute: Middleware = (_req, _res, next) => next(notFound('No route matches this path.'));

/**
 * The routes of `routes` are served before express: each one's chain (led by what the app
 * runs first for every request), errors through `errors`, and a `next()` past the chain goes
 * to `noRoute`, as in express. Every other request goes to express as before. `app` stays
 * what tests and the server hand to node:http (express's app function calls `app.handle`).
 */
export function serveBeforeExpress(app: Express, routes: StaticRoutes<Middleware>, errors: readonly ErrorMiddleware[]): void {
  const target = app as unknown as { handle: AppHandle };
  const expressHandle = target.handle.bind(app);
  const onError = errorChainOf(errors);
  target.handle = (req, res, callback) => {
    const pathname = pathnameOf(req);
    const chain = pathname === undefined ? undefined : routes.find(req.method, pathname);
    if (chain === undefined) return expressHandle(req, res, callback);
    res.locals = Object.create(null) as GatewayResponse['locals'];
    const fail = (error: unknown): void => onError(error, req, res);
    chain(req, res, (error?: unknown) => (error === undefined ? noRoute(req, res, fail) : fail(error)));
  };
}
