/**
 * How a request reaches its route's handlers. Express's router walks its layers one by one,
 * matching each path pattern in turn, and passes through each handler of a route as a layer of
 * its own; for a check, which does little else, that walk was a tenth of its time
 * (docs/BENCHMARKS.md). Here a route's handlers are one function (`chainOf`), and the routes
 * whose path has no parameter are found by one map lookup (`StaticRoutes`). Routes with
 * parameters, and every route while tracing names spans by express's layers, are registered
 * with express as before: same chains, same order, same answers.
 */
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';

/** Any method the route does not name: its 405 (or the route's `ALL` handler, when it has one). */
export type MountMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS' | 'ALL' | 'OTHER';

/** Where routes are registered: express's router, or the static map in front of it. */
export interface RouteMount {
  on(method: MountMethod, path: string, handler: RequestHandler): void;
}

/**
 * The handlers run in order, each calling `next()` for the one after it, as the router runs a
 * route's handlers: an error, thrown or passed to `next` or a rejected promise, goes to the
 * app's error handlers; a `next()` from the last goes on to the app's next layer (the 404).
 */
export function chainOf(handlers: readonly RequestHandler[]): RequestHandler {
  if (handlers.length === 1) return handlers[0]!;
  return (req: Request, res: Response, done: NextFunction): void => {
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
 * What express's router matches a route path against: not case-sensitive, one trailing slash
 * optional (its defaults), the path as sent (percent-escapes are not decoded for matching).
 */
export function staticPathKey(pathname: string): string {
  const lower = pathname.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/** Routes without path parameters, found by one lookup; one middleware for all of them. */
export class StaticRoutes {
  private readonly routes = new Map<string, Map<MountMethod, RequestHandler>>();

  static accepts(path: string): boolean {
    return !/[:*?(){}]/.test(path);
  }

  add(method: MountMethod, path: string, handler: RequestHandler): void {
    const key = staticPathKey(path);
    let methods = this.routes.get(key);
    if (!methods) {
      methods = new Map();
      this.routes.set(key, methods);
    }
    if (methods.has(method)) throw new Error(`${method} ${path} is registered twice`);
    methods.set(method, handler);
  }

  middleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction): void => {
      const methods = this.routes.get(staticPathKey(req.path));
      if (methods === undefined) return next();
      const handler =
        methods.get(req.method as MountMethod) ??
        // As express's router: a GET route answers HEAD.
        (req.method === 'HEAD' ? methods.get('GET') : undefined) ??
        methods.get('ALL') ??
        methods.get('OTHER');
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
