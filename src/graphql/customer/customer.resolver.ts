import { modelFor } from '../model/pin.js';
import { addWarning } from '../common/warnings.js';
import { storedScoresState } from '../segment/segment.repository.js';
import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { LoadedModel } from '../../inference/registry.js';
import type { Context } from '../context.type.js';
import { cursorInstant, decodeCursor, encodeCursor, pageSize } from '../common/connection.js';
import { uuid } from '../common/ids.js';
import * as check from '../common/validate.js';
import { ErrorCode, appError, badInput } from '../errors.js';
import { ruleFor } from '../auth/policy.js';
import { OrderConnection } from '../order/order.type.js';
import { CustomerFilter, CustomerOrderBy, CustomerSortField, SortDirection, UpsertCustomerInput } from './customer.input.js';
import { countCustomers, isValidSortValue, listCustomers, upsertCustomer, type CustomerWrite } from './customer.repository.js';
import { Customer, CustomerConnection, CustomerStats } from './customer.type.js';

const defaultOrder: CustomerOrderBy = { field: CustomerSortField.CREATED_AT, direction: SortDirection.ASC };

function checkFilter(filter: CustomerFilter | null | undefined, scoreModel: LoadedModel): void {
  filter?.countries?.forEach((c, i) => check.countryCode(`filter.countries[${i}]`, c));
  for (const field of ['createdFrom', 'createdTo', 'lastOrderFrom', 'lastOrderTo'] as const) {
    const time = filter?.[field];
    if (time != null) check.storableTime(`filter.${field}`, time);
  }
  if (filter?.minOrderCount != null) check.intInRange('filter.minOrderCount', filter.minOrderCount, 0, 2 ** 31 - 1);
  if (filter?.maxOrderCount != null) check.intInRange('filter.maxOrderCount', filter.maxOrderCount, 0, 2 ** 31 - 1);
  if (filter?.segment != null && !scoreModel.classes.includes(filter.segment)) {
    throw badInput('filter.segment', `unknown segment "${filter.segment}" of ${scoreModel.name} (known: ${scoreModel.classes.join(', ')})`);
  }
  for (const field of ['minProbability', 'maxProbability'] as const) {
    const p = filter?.[field];
    if (p != null && !(p >= 0 && p <= 1)) throw badInput(`filter.${field}`, 'must be between 0 and 1');
  }
  if (filter?.minPredictedClv != null && !Number.isFinite(filter.minPredictedClv)) throw badInput('filter.minPredictedClv', 'must be a finite number');
}

/**
 * A filter or an ordering on a stored lifetime value reveals it (an oracle): allowed only to a role
 * that may read the value itself (StoredScore.predictedClv, derived from the orders).
 */
function checkLifetimeReadable(ctx: Context, filter: CustomerFilter | null | undefined, order: CustomerOrderBy): void {
  const used = filter?.minPredictedClv != null ? 'filter.minPredictedClv' : order.field === CustomerSortField.PREDICTED_CLV ? 'orderBy.field' : null;
  if (used && ruleFor(ctx.principal.role, 'StoredScore', 'predictedClv') !== 'allow') {
    throw appError(ErrorCode.FORBIDDEN, `Not allowed for this credential: ${used} (StoredScore.predictedClv)`, { field: used });
  }
}

/** The model whose stored scores (CustomerScore) filters and the PROBABILITY ordering read. */
function scoreModelOf(ctx: Context, name: string | null): LoadedModel {
  return modelFor(ctx, name, null, 'scoreModel');
}

@Resolver(() => Customer)
export class CustomerResolver {
  @Query(() => Customer, { nullable: true, description: 'A customer by id; null when there is none.' })
  customer(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Customer | null> {
    return ctx.loaders.customerById.load(uuid('id', id));
  }

  @Query(() => Customer, { nullable: true, description: 'A customer by the shop system\'s id; null when there is none.' })
  customerByExternalId(@Arg('externalId', () => String) externalId: string, @Ctx() ctx: Context): Promise<Customer | null> {
    return ctx.loaders.customerByExternalId.load(check.externalId('externalId', externalId));
  }

  @Query(() => CustomerConnection, { description: 'Customers page by page (keyset pagination). `first` defaults to DEFAULT_PAGE_SIZE and may not exceed MAX_PAGE_SIZE.' })
  async customers(
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => CustomerFilter, { nullable: true }) filter: CustomerFilter | null,
    @Arg('orderBy', () => CustomerOrderBy, { nullable: true }) orderBy: CustomerOrderBy | null,
    @Arg('scoreModel', () => String, {
      nullable: true,
      description: 'Model whose stored scores (`npm run score`) the `segment`/`minProbability`/`maxProbability`/`minPredictedClv` filters and the PROBABILITY/PREDICTED_CLV orderings use. Default: DEFAULT_MODEL.',
    })
    scoreModel: string | null,
    @Ctx() ctx: Context,
  ): Promise<CustomerConnection> {
    const size = pageSize(first, ctx.config.DEFAULT_PAGE_SIZE, ctx.config.MAX_PAGE_SIZE);
    const model = scoreModelOf(ctx, scoreModel);
    checkFilter(filter, model);
    const order = orderBy ?? defaultOrder;
    checkLifetimeReadable(ctx, filter, order);
    // A PROBABILITY or PREDICTED_CLV cursor belongs to one model's scores (and a CLV cursor to whether
    // minPredictedClv is given: it decides where customers without a value sort).
    const scoreSort = order.field === CustomerSortField.PROBABILITY || order.field === CustomerSortField.PREDICTED_CLV;
    const clvFiltered = order.field === CustomerSortField.PREDICTED_CLV && filter?.minPredictedClv != null ? ':clv' : '';
    const sortKey = scoreSort ? `${order.field}:${order.direction}:${model.name}${clvFiltered}` : `${order.field}:${order.direction}`;
    const position = after ? decodeCursor(after, sortKey) : null;
    if (position && !isValidSortValue(order.field, position.value)) {
      throw appError(ErrorCode.INVALID_CURSOR, 'after: malformed cursor', { field: 'after' });
    }
    const usesScores = scoreSort || filter?.segment != null || filter?.minProbability != null || filter?.maxProbability != null || filter?.minPredictedClv != null;
    const [{ rows, hasNextPage }, scores] = await Promise.all([
      listCustomers(ctx.db, { filter, orderBy: order, first: size, after: position, scoreModel: model.name }),
      usesScores ? storedScoresState(ctx.db.prisma, model.name, model.version) : null,
    ]);
    // The list is right about the stored scores; say when those are not (yet) the served model's.
    if (scores?.note) addWarning(ctx, { code: 'STORED_SCORES_INCOMPLETE', message: scores.note, model: model.name, servedVersion: model.version });
    const edges = rows.map(({ customer, sortValue }) => {
      ctx.loaders.customerById.prime(customer.id, customer);
      return { node: customer, cursor: encodeCursor({ sort: sortKey, value: sortValue, id: customer.id }) };
    });
    return CustomerConnection.from({
      edges,
      pageInfo: {
        hasNextPage,
        hasPreviousPage: position !== null,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
      totalCount: () => countCustomers(ctx.db, filter, model.name),
    });
  }

  @FieldResolver(() => CustomerStats)
  stats(@Root() customer: Customer, @Ctx() ctx: Context): Promise<CustomerStats> {
    return ctx.loaders.stats.load(customer.id);
  }

  @FieldResolver(() => OrderConnection, { description: 'All orders (any status), newest first.' })
  async orders(
    @Root() customer: Customer,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
  ): Promise<OrderConnection> {
    const size = pageSize(first, ctx.config.DEFAULT_PAGE_SIZE, ctx.config.MAX_PAGE_SIZE);
    const position = after ? decodeCursor(after, 'orders') : null;
    // The value must be an instant this server could have written (toISOString of a storable time).
    const orderedAt = position ? cursorInstant(position.value) : null;
    if (position && !orderedAt) throw appError(ErrorCode.INVALID_CURSOR, 'after: malformed cursor', { field: 'after' });
    const afterKey = position && orderedAt ? { orderedAt, id: position.id } : null;
    const orders = await ctx.loaders.orders(size, afterKey).load(customer.id);
    const edges = orders.slice(0, size).map((order) => ({
      node: order,
      cursor: encodeCursor({ sort: 'orders', value: order.orderedAt.toISOString(), id: order.id }),
    }));
    return OrderConnection.from({
      edges,
      pageInfo: {
        hasNextPage: orders.length > size,
        hasPreviousPage: position !== null,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
      totalCount: () => ctx.loaders.orderCount.load(customer.id),
    });
  }

  @Mutation(() => Customer, { description: 'Creates or updates a customer by externalId. Safe to retry.' })
  async upsertCustomer(@Arg('input', () => UpsertCustomerInput) input: UpsertCustomerInput, @Ctx() ctx: Context): Promise<Customer> {
    const write: CustomerWrite = { externalId: check.externalId('input.externalId', input.externalId) };
    if (input.name !== undefined) write.name = check.requiredText('input.name', input.name, 200);
    if (input.email !== undefined) write.email = input.email === null ? null : check.email('input.email', input.email);
    if (input.gender !== undefined) write.gender = input.gender;
    if (input.birthDate !== undefined) write.birthDate = input.birthDate === null ? null : check.pastDay('input.birthDate', input.birthDate);
    if (input.country !== undefined) write.country = input.country === null ? null : check.countryCode('input.country', input.country);
    if (input.createdAt != null) write.createdAt = check.pastTime('input.createdAt', input.createdAt, ctx.config.ORDER_FUTURE_TOLERANCE_SECONDS);
    try {
      const customer = await upsertCustomer(ctx.db, write);
      if (!customer) throw badInput('input.name', 'is required when creating a customer');
      ctx.loaders.customerById.clear(customer.id).prime(customer.id, customer);
      return customer;
    } catch (err) {
      if (check.sqlState(err) === '23505') {
        throw appError(ErrorCode.ALREADY_EXISTS, 'input.email: already belongs to another customer', { field: 'input.email' });
      }
      throw err;
    }
  }
}
