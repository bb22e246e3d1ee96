//! Two tenants, both strategies: each sees only its own rows through every SeaORM call.

mod common;

use common::isolation_cases as cases;

#[tokio::test]
async fn schema_entities_stay_in_their_tenant() {
    cases::schema_entities_stay_in_their_tenant(&common::app().await).await;
}

#[tokio::test]
async fn attribute_entities_are_filtered_and_stamped() {
    cases::attribute_entities_are_filtered_and_stamped(&common::app().await).await;
}

#[tokio::test]
async fn transactions_and_savepoints_stay_in_the_tenant() {
    cases::transactions_and_savepoints_stay_in_the_tenant(&common::app().await).await;
}

#[tokio::test]
async fn no_tenant_is_an_error_not_a_query_of_everything() {
    cases::no_tenant_is_an_error_not_a_query_of_everything(&common::app().await).await;
}
