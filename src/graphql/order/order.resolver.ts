import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { MAX_ITEM_COUNT } from '../../db/rules.js';
import type { Context } from '../context.type.js';
import { uuid } from '../common/ids.js';
import * as check from '../common/validate.js';
import { ErrorCode, appError, badInput } from '../errors.js';
import { Customer } from '../customer/customer.type.js';
import { RecordOrderInput } from './order.input.js';
import { recordOrder, type OrderWrite } from './order.repository.js';
import { Order } from './order.type.js';

@Resolver(() => Order)
export class OrderResolver {
  @FieldResolver(() => Customer)
  async customer(@Root() order: Order, @Ctx() ctx: Context): Promise<Customer> {
    const customer = await ctx.loaders.customerById.load(order.customerId);
    if (!customer) throw appError(ErrorCode.CUSTOMER_NOT_FOUND, 'The order\'s customer no longer exists');
    return customer;
  }

  @Mutation(() => Order, { description: 'Records an order. Idempotent by externalId: a retry returns the stored order, never a duplicate.' })
  async recordOrder(@Arg('input', () => RecordOrderInput) input: RecordOrderInput, @Ctx() ctx: Context): Promise<Order> {
    const hasId = input.customerId != null;
    const hasExternal = input.customerExternalId != null;
    if (hasId === hasExternal) throw badInput('input.customerId', 'give exactly one of customerId and customerExternalId');
    const write: OrderWrite = {
      externalId: check.externalId('input.externalId', input.externalId),
      customer: hasId
        ? { id: uuid('input.customerId', input.customerId!) }
        : { externalId: check.externalId('input.customerExternalId', input.customerExternalId!) },
      orderedAt: check.pastTime('input.orderedAt', input.orderedAt, ctx.config.ORDER_FUTURE_TOLERANCE_SECONDS),
      amount: check.nonNegativeAmount('input.amount', input.amount),
      itemCount: check.intInRange('input.itemCount', input.itemCount, 0, MAX_ITEM_COUNT),
      currency: check.currencyCode('input.currency', input.currency),
      status: input.status,
    };
    const result = await recordOrder(ctx.db, write);
    switch (result.kind) {
      case 'created':
        // Predictions of this customer no longer hold.
        ctx.scoring.cache.invalidate(result.order.customerId);
        return result.order;
      case 'existing':
        return result.order;
      case 'conflict':
        throw appError(ErrorCode.IDEMPOTENCY_CONFLICT, 'input.externalId: an order with this externalId exists with different content', {
          field: 'input.externalId',
          existingOrderId: result.order.id,
        });
      case 'unknown-customer':
        throw appError(ErrorCode.CUSTOMER_NOT_FOUND, `${hasId ? 'input.customerId' : 'input.customerExternalId'}: no such customer`, {
          field: hasId ? 'input.customerId' : 'input.customerExternalId',
        });
    }
  }
}
