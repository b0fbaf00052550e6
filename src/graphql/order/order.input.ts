import { Field, ID, InputType, Int } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import { DecimalScalar } from '../common/scalars.js';
import { OrderStatus } from './order.type.js';

@InputType({ description: 'Give exactly one of customerId and customerExternalId. Retrying with the same externalId returns the same order.' })
export class RecordOrderInput {
  @Field(() => String, { description: 'Idempotency key: the order id in the shop system.' }) externalId!: string;
  @Field(() => ID, { nullable: true }) customerId?: string | null;
  @Field(() => String, { nullable: true }) customerExternalId?: string | null;
  @Field(() => GraphQLDateTimeISO) orderedAt!: Date;
  @Field(() => DecimalScalar, { description: 'Non-negative, at most two decimals.' }) amount!: string;
  @Field(() => Int, { description: 'Number of items, ≥ 0.' }) itemCount!: number;
  @Field(() => String, { description: 'ISO 4217 code, three upper-case letters.' }) currency!: string;
  @Field(() => OrderStatus, { defaultValue: OrderStatus.PAID }) status!: OrderStatus;
}
