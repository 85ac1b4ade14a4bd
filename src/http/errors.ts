/** HTTP errors and the one middleware that turns every error into JSON. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/** An error with the status it must be answered with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** 404 for every route nobody matched. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, `no route for ${req.method} ${req.path.slice(0, 200)}`));
};

/** Maps errors to statuses: ours as given, client errors from the router as 4xx, the rest 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const status = statusOf(err);
    // Our own 5xx (the documented 503 before the first load) are expected answers, not failures.
    if (err instanceof HttpError) {
      if (status >= 500) logger.debug('request answered with an error', { status, error: errorMessage(err) });
    } else if (status >= 500) {
      logger.error('request failed', { error: errorMessage(err) });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json({ error: status >= 500 && !(err instanceof HttpError) ? 'internal error' : errorMessage(err) });
  };
}

function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  const s = (err as { status?: unknown; statusCode?: unknown } | null)?.status ?? (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' && s >= 400 && s < 500 ? s : 500;
}
