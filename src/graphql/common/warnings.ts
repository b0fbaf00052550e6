// Warnings about an answer that is correct but may mislead (e.g. stored scores still being
// refreshed), sent in the response's `extensions.warnings` so a client sees them without asking.
import type { ApolloServerPlugin } from '@apollo/server';
import type { Context } from '../context.type.js';

export interface Warning {
  code: string;
  message: string;
  [key: string]: unknown;
}

const byContext = new WeakMap<Context, Warning[]>();

export function addWarning(ctx: Context, warning: Warning): void {
  let list = byContext.get(ctx);
  if (!list) byContext.set(ctx, (list = []));
  if (!list.some((w) => w.code === warning.code && w.message === warning.message)) list.push(warning);
}

export const warningsPlugin: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, response }) {
        const list = byContext.get(contextValue);
        if (list?.length && response.body.kind === 'single') {
          response.body.singleResult.extensions = { ...response.body.singleResult.extensions, warnings: list };
        }
      },
    };
  },
};
