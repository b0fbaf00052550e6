import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTimeISO, GraphQLLocalDate } from 'graphql-scalars';
import { DecimalScalar } from '../common/scalars.js';
import { Connection } from '../common/connection.js';

export enum Gender {
  FEMALE = 'F',
  MALE = 'M',
  OTHER = 'X',
}
registerEnumType(Gender, { name: 'Gender', description: 'Stored as F, M or X.' });

@ObjectType({ description: 'A shopper.' })
export class Customer {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'The id in the shop system; unique.' }) externalId!: string;
  @Field(() => String, { nullable: true }) email!: string | null;
  @Field(() => String) name!: string;
  @Field(() => Gender, { nullable: true }) gender!: Gender | null;
  @Field(() => GraphQLLocalDate, { nullable: true }) birthDate!: string | null;
  @Field(() => String, { nullable: true, description: 'ISO 3166-1 alpha-2 code.' }) country!: string | null;
  @Field(() => GraphQLDateTimeISO) createdAt!: Date;
  @Field(() => GraphQLDateTimeISO) updatedAt!: Date;
}

@ObjectType({ description: 'Aggregates over the customer\'s paid orders (refunded and cancelled orders are not counted).' })
export class CustomerStats {
  @Field(() => Int) orderCount!: number;
  @Field(() => DecimalScalar) totalSpent!: string;
  @Field(() => DecimalScalar, { nullable: true, description: 'Null when there are no paid orders.' }) averageOrderValue!: string | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true }) firstOrderAt!: Date | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true }) lastOrderAt!: Date | null;
}

export const CustomerConnection = Connection('Customer', Customer);
export type CustomerConnection = InstanceType<typeof CustomerConnection>;
