//! The entities of the reference SaaS.
//!
//! | entity | tenancy | table |
//! |---|---|---|
//! | [`organization`] | global: its rows are the tenants | `public.organizations` |
//! | [`user`] | global | `public.users` |
//! | [`post`] | schema: one table per tenant | `org_<id>.posts` |
//! | [`comment`] | schema, references `post` and the global `user` | `org_<id>.comments` |
//! | [`membership`] | attribute, tenant column `org_id` | `public.memberships` |
//! | [`invitation`] | attribute, tenant column `org_id`, tenant-matched key to `membership` | `public.invitations` |

pub mod comment;
pub mod invitation;
pub mod membership;
pub mod organization;
pub mod post;
pub mod user;
