// `Query.viewer`: what the caller's own credential may do, so a client (the admin dashboard) can
// show or hide actions — e.g. promotion for admins only — instead of learning by being refused.
// It reveals nothing the caller does not already hold.
import { Ctx, Field, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.type.js';

@ObjectType({ description: "The credential of the current request." })
export class Viewer {
  @Field(() => String, { description: 'admin, bi or frontend.' }) role!: string;
  @Field(() => Boolean, { description: 'False when the request carried no credential, neither an API key nor a shopper token (allowed only while AUTH_MODE=off; such requests are admin).' })
  authenticated!: boolean;
}

@Resolver()
export class ViewerResolver {
  @Query(() => Viewer, { description: "The caller's credential: its role." })
  viewer(@Ctx() ctx: Context): Viewer {
    return { role: ctx.principal.role, authenticated: ctx.principal.kind !== 'anonymous' };
  }
}
