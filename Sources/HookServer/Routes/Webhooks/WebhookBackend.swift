import Pipeline

/// What the webhook endpoint needs from the rest of Slipway: find the app, record the delivery,
/// deploy a push. `AppService` is the real one; the route tests use a fake.
protocol WebhookBackend: Sendable {
    func app(named name: String) throws -> App?
    /// Records a delivery that needs no deployment, in a batch with others (`DeliveryRecorder`);
    /// `completion` says whether it was new (false: a redelivery) once the batch is stored.
    func record(_ entry: DeliveryRecorder.Entry, completion: @escaping DeliveryRecorder.Completion)
    /// Records a redelivery at once, with the deployment its first delivery started.
    func recordDuplicate(appID: Int, deliveryID: String, event: String, deploymentID: Int?) throws
    /// Stores the delivery and queues a deployment of `sha`; nil when the delivery id was seen before.
    func deployPush(_ app: App, sha: String, deliveryID: String?, commitMessage: String?, commitAuthor: String?) throws -> Deployment?
    /// The deployment that an earlier delivery with this id started, if any.
    func deploymentID(ofDelivery deliveryID: String) throws -> Int?
}

extension AppService: WebhookBackend {
    func app(named name: String) throws -> App? { try store.app(named: name) }

    func record(_ entry: DeliveryRecorder.Entry, completion: @escaping DeliveryRecorder.Completion) {
        store.deliveries.record(entry, completion: completion)
    }

    func recordDuplicate(appID: Int, deliveryID: String, event: String, deploymentID: Int?) throws {
        try store.recordDelivery(appID: appID, deliveryID: deliveryID, event: event, result: .duplicate, deploymentID: deploymentID)
    }

    func deploymentID(ofDelivery deliveryID: String) throws -> Int? { try store.deliveryDeployment(deliveryID: deliveryID) }
}
