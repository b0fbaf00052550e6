import { Field, Float, InputType, Int, registerEnumType } from 'type-graphql';
import { GraphQLDateTimeISO, GraphQLLocalDate } from 'graphql-scalars';
import { DecimalScalar } from '../common/scalars.js';
import { Gender } from './customer.type.js';

@InputType({ description: 'All given conditions must hold. Ranges: `…From` is inclusive, `…To` is exclusive.' })
export class CustomerFilter {
  @Field(() => [String], { nullable: true, description: 'ISO-2 country codes; any of them.' }) countries?: string[] | null;
  @Field(() => Gender, { nullable: true }) gender?: Gender | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true }) createdFrom?: Date | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true }) createdTo?: Date | null;
  @Field(() => Int, { nullable: true, description: 'Paid orders, inclusive.' }) minOrderCount?: number | null;
  @Field(() => Int, { nullable: true, description: 'Paid orders, inclusive.' }) maxOrderCount?: number | null;
  @Field(() => DecimalScalar, { nullable: true, description: 'Total paid spend, inclusive.' }) minTotalSpent?: string | null;
  @Field(() => DecimalScalar, { nullable: true, description: 'Total paid spend, inclusive.' }) maxTotalSpent?: string | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'Last paid order at or after this time.' }) lastOrderFrom?: Date | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'Last paid order before this time, or no paid order at all.' }) lastOrderTo?: Date | null;
  @Field(() => String, {
    nullable: true,
    description: 'Stored segment (CustomerScore, written by `npm run score`) of the `scoreModel`. Customers without a stored score never match.',
  })
  segment?: string | null;
  @Field(() => Float, { nullable: true, description: 'Stored probability of the stored segment, inclusive (0–1). Customers without a stored score never match.' })
  minProbability?: number | null;
  @Field(() => Float, { nullable: true, description: 'Stored probability of the stored segment, inclusive (0–1). Customers without a stored score never match.' })
  maxProbability?: number | null;
  @Field(() => Float, {
    nullable: true,
    description: 'Stored predicted lifetime value over 90 days (StoredScore.predictedClv of the `scoreModel`), inclusive, in the card\'s currency. Customers without one never match.',
  })
  minPredictedClv?: number | null;
}

export enum CustomerSortField {
  CREATED_AT = 'CREATED_AT',
  EXTERNAL_ID = 'EXTERNAL_ID',
  ORDER_COUNT = 'ORDER_COUNT',
  TOTAL_SPENT = 'TOTAL_SPENT',
  LAST_ORDER_AT = 'LAST_ORDER_AT',
  PROBABILITY = 'PROBABILITY',
  PREDICTED_CLV = 'PREDICTED_CLV',
}
registerEnumType(CustomerSortField, {
  name: 'CustomerSortField',
  valuesConfig: {
    PROBABILITY: {
      description: 'Stored probability of the stored segment (CustomerScore of `scoreModel`); customers without a stored score come last in either direction.',
    },
    PREDICTED_CLV: {
      description: 'Stored 90-day predicted lifetime value (StoredScore.predictedClv of `scoreModel`); customers without one come last in either direction.',
    },
  },
});

export enum SortDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}
registerEnumType(SortDirection, { name: 'SortDirection' });

@InputType({ description: 'Ties are broken by id, so pages never overlap or skip.' })
export class CustomerOrderBy {
  @Field(() => CustomerSortField, { defaultValue: CustomerSortField.CREATED_AT }) field!: CustomerSortField;
  @Field(() => SortDirection, { defaultValue: SortDirection.ASC }) direction!: SortDirection;
}

@InputType({ description: 'Creates the customer with this externalId, or updates the fields given. An omitted field is left unchanged; null clears it.' })
export class UpsertCustomerInput {
  @Field(() => String) externalId!: string;
  @Field(() => String, { nullable: true, description: 'Required when the customer is created.' }) name?: string | null;
  @Field(() => String, { nullable: true }) email?: string | null;
  @Field(() => Gender, { nullable: true }) gender?: Gender | null;
  @Field(() => GraphQLLocalDate, { nullable: true }) birthDate?: string | null;
  @Field(() => String, { nullable: true }) country?: string | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'Signup time; defaults to now on creation.' }) createdAt?: Date | null;
}
