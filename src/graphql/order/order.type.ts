import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import { DecimalScalar } from '../common/scalars.js';
import { Connection } from '../common/connection.js';

export enum OrderStatus {
  PAID = 'paid',
  REFUNDED = 'refunded',
  CANCELLED = 'cancelled',
}
registerEnumType(OrderStatus, { name: 'OrderStatus' });

@ObjectType()
export class Order {
  @Field(() => ID) id!: string;
  @Field(() => ID) customerId!: string;
  @Field(() => String, { description: 'Idempotency key from the shop system; unique.' }) externalId!: string;
  @Field(() => GraphQLDateTimeISO) orderedAt!: Date;
  @Field(() => DecimalScalar) amount!: string;
  @Field(() => Int) itemCount!: number;
  @Field(() => String, { description: 'ISO 4217 code.' }) currency!: string;
  @Field(() => OrderStatus) status!: OrderStatus;
  @Field(() => GraphQLDateTimeISO) createdAt!: Date;
}

export const OrderConnection = Connection('Order', Order);
export type OrderConnection = InstanceType<typeof OrderConnection>;
